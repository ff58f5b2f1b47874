"""/api/v1/webhooks: receivers of alert notifications (Alertmanager webhook v4 payloads)
and instance events (docs/events.md), owned by the caller. An admin's webhook gets every
alert and event; a user's gets those of the user's own instances. A URL is registered only
when the egress policy lets the service call it (service/monitoring/egress.py), and each
user has at most DBVEND_WEBHOOK_LIMIT of them. Each webhook gets a signing secret, shown
once in the creation's response and stored encrypted."""

from __future__ import annotations

from aiohttp import web

from ..web.body import read_json
from ..web.contract import contract, respond
from ..web.identity import current_user
from ..web.params import path_int
from ..web.schemas import parse
from .alert_endpoints import monitoring
from .requests import CreateWebhookRequest
from .schemas import WebhookCreated, WebhookDetail, WebhookList, WebhookTest
from .views import webhook_view

routes = web.RouteTableDef()
_ID = {"id": "webhook id"}


@routes.post("/api/v1/webhooks")
@contract(
    "Receive alerts (Alertmanager webhook v4 payloads) and/or instance events: an admin's webhook "
    "gets every one, a user's those of the user's instances",
    description="The URL must be http(s) and its host public (not loopback, private, link-local, "
    "unique-local, multicast, reserved, nor this service) unless DBVEND_WEBHOOK_ALLOW allows its "
    "network; 403 quota_exceeded past DBVEND_WEBHOOK_LIMIT webhooks per user. The response holds the "
    "webhook's signing secret, shown only here: every delivery carries X-Dbvend-Timestamp and "
    'X-Dbvend-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">.',
    request=CreateWebhookRequest,
    responses={201: WebhookCreated},
    errors=(400, 401, 403, 415, 422),
    tags=("monitoring",),
)
async def create_webhook(request: web.Request) -> web.Response:
    body = parse(CreateWebhookRequest, await read_json(request))
    made = await monitoring(request).create_webhook(
        current_user(request), body.url, send_resolved=body.send_resolved, events=body.events
    )
    hook = made.webhook
    return respond(
        WebhookCreated,
        {**webhook_view(hook), "secret": made.secret},
        status=201,
        headers={"Location": f"/api/v1/webhooks/{hook.id}", "Cache-Control": "no-store"},
    )


@routes.get("/api/v1/webhooks")
@contract("Your webhooks", responses={200: WebhookList}, errors=(401,), tags=("monitoring",))
async def list_webhooks(request: web.Request) -> web.Response:
    hooks = await monitoring(request).webhooks(current_user(request))
    return respond(WebhookList, {"items": [webhook_view(h) for h in hooks]})


@routes.get("/api/v1/webhooks/{id}")
@contract(
    "One of your webhooks with its recent deliveries",
    responses={200: WebhookDetail},
    errors=(401, 404),
    path=_ID,
    tags=("monitoring",),
)
async def get_webhook(request: web.Request) -> web.Response:
    webhook_id = path_int(request, "id", "webhook")
    hook, deliveries = await monitoring(request).webhook(current_user(request), webhook_id)
    return respond(WebhookDetail, webhook_view(hook, deliveries))


@routes.post("/api/v1/webhooks/{id}/test")
@contract(
    "Send one of your webhooks a test delivery",
    description="A `webhook.test` payload (X-Dbvend-Event: webhook.test), signed like every delivery,"
    " tried once at once: GET /webhooks/{id} shows its outcome among the deliveries (status, the"
    " receiver's HTTP status, our words for a failure). 202 with the delivery's id.",
    responses={202: WebhookTest},
    errors=(401, 404),
    path=_ID,
    tags=("monitoring",),
)
async def test_webhook(request: web.Request) -> web.Response:
    webhook_id = path_int(request, "id", "webhook")
    delivery_id = await monitoring(request).test_webhook(current_user(request), webhook_id)
    return respond(
        WebhookTest,
        {"delivery_id": delivery_id, "status": "pending"},
        status=202,
        headers={"Location": f"/api/v1/webhooks/{webhook_id}"},
    )


@routes.delete("/api/v1/webhooks/{id}")
@contract(
    "Remove one of your webhooks", responses={204: None}, errors=(401, 404), path=_ID, tags=("monitoring",)
)
async def delete_webhook(request: web.Request) -> web.Response:
    await monitoring(request).delete_webhook(current_user(request), path_int(request, "id", "webhook"))
    return web.Response(status=204)
