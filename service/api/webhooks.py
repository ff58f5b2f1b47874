"""/api/v1/webhooks: receivers of alert notifications (Alertmanager webhook v4 payloads)
and instance events (docs/events.md), owned by the caller. An admin's webhook gets every
alert and event; a user's gets those of the user's own instances. A URL is registered only
when the egress policy lets the service call it (service/monitoring/egress.py), and each
user has at most DBVEND_WEBHOOK_LIMIT of them. Each webhook gets a signing secret, shown
once in the creation's response and stored encrypted."""

from __future__ import annotations

from aiohttp import web

from ..db import webhooks as webhooks_repo
from ..errors import FieldError, Invalid, NotFound, QuotaExceeded
from ..events import signing
from ..monitoring.egress import EgressRefused
from .auth import current_user
from .context import services
from .contract import contract, respond
from .errors import read_json
from .monitoring_models import WebhookCreated, WebhookDetail, WebhookList
from .monitoring_schemas import CreateWebhookRequest
from .monitoring_views import webhook_view
from .params import path_int
from .schemas import parse

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
    svc = services(request)
    body = parse(CreateWebhookRequest, await read_json(request))
    try:
        await svc.egress.check(body.url)
    except EgressRefused as exc:
        raise Invalid([FieldError("url", str(exc))]) from None
    limit = svc.settings.webhook_limit
    secret = signing.new_secret()
    hook = await webhooks_repo.create_within(
        svc.pool,
        current_user(request).id,
        body.url,
        body.send_resolved,
        limit=limit,
        events=body.events,
        secret=svc.box.seal({"secret": secret}),
    )
    if hook is None:
        raise QuotaExceeded(
            f"quota exceeded: at most {limit} webhooks per user",
            details=[FieldError("webhooks", f"limit of {limit} reached; delete one first")],
        )
    return respond(
        WebhookCreated,
        {**webhook_view(hook), "secret": secret},
        status=201,
        headers={"Location": f"/api/v1/webhooks/{hook.id}", "Cache-Control": "no-store"},
    )


@routes.get("/api/v1/webhooks")
@contract("Your webhooks", responses={200: WebhookList}, errors=(401,), tags=("monitoring",))
async def list_webhooks(request: web.Request) -> web.Response:
    hooks = await webhooks_repo.list_for(services(request).pool, current_user(request).id)
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
    svc = services(request)
    webhook_id = path_int(request, "id", "webhook")
    hook = next(
        (h for h in await webhooks_repo.list_for(svc.pool, current_user(request).id) if h.id == webhook_id),
        None,
    )
    if hook is None:
        raise NotFound("webhook")
    return respond(WebhookDetail, webhook_view(hook, await webhooks_repo.recent_for(svc.pool, hook.id)))


@routes.delete("/api/v1/webhooks/{id}")
@contract(
    "Remove one of your webhooks", responses={204: None}, errors=(401, 404), path=_ID, tags=("monitoring",)
)
async def delete_webhook(request: web.Request) -> web.Response:
    svc = services(request)
    if not await webhooks_repo.delete(svc.pool, path_int(request, "id", "webhook"), current_user(request).id):
        raise NotFound("webhook")
    return web.Response(status=204)
