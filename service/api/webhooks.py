"""/api/v1/webhooks: receivers of alert notifications (Alertmanager webhook v4 payloads),
owned by the caller. An admin's webhook gets every alert; a user's gets the alerts of
the user's own instances."""

from __future__ import annotations

from aiohttp import web

from ..db import webhooks as webhooks_repo
from .auth import current_user
from .context import services
from .contract import contract, respond
from .errors import not_found, read_json
from .monitoring_models import Webhook, WebhookDetail, WebhookList
from .monitoring_schemas import CreateWebhookRequest
from .monitoring_views import webhook_view
from .params import path_int
from .schemas import parse

routes = web.RouteTableDef()
_ID = {"id": "webhook id"}


@routes.post("/api/v1/webhooks")
@contract(
    "Receive alerts as Alertmanager webhook (v4) payloads",
    description="An admin's webhook gets every alert, a user's the alerts of the user's instances.",
    request=CreateWebhookRequest,
    responses={201: Webhook},
)
async def create_webhook(request: web.Request) -> web.Response:
    svc = services(request)
    body = parse(CreateWebhookRequest, await read_json(request))
    hook = await webhooks_repo.create(svc.pool, current_user(request).id, body.url, body.send_resolved)
    return respond(
        Webhook, webhook_view(hook), status=201, headers={"Location": f"/api/v1/webhooks/{hook.id}"}
    )


@routes.get("/api/v1/webhooks")
@contract("Your webhooks", responses={200: WebhookList})
async def list_webhooks(request: web.Request) -> web.Response:
    hooks = await webhooks_repo.list_for(services(request).pool, current_user(request).id)
    return respond(WebhookList, {"items": [webhook_view(h) for h in hooks]})


@routes.get("/api/v1/webhooks/{id}")
@contract("One of your webhooks with its recent deliveries", path=_ID, responses={200: WebhookDetail})
async def get_webhook(request: web.Request) -> web.Response:
    svc = services(request)
    webhook_id = path_int(request, "id", "webhook")
    hook = next(
        (h for h in await webhooks_repo.list_for(svc.pool, current_user(request).id) if h.id == webhook_id),
        None,
    )
    if hook is None:
        raise not_found("webhook")
    return respond(WebhookDetail, webhook_view(hook, await webhooks_repo.recent_for(svc.pool, hook.id)))


@routes.delete("/api/v1/webhooks/{id}")
@contract("Remove one of your webhooks", path=_ID, responses={204: None})
async def delete_webhook(request: web.Request) -> web.Response:
    svc = services(request)
    if not await webhooks_repo.delete(svc.pool, path_int(request, "id", "webhook"), current_user(request).id):
        raise not_found("webhook")
    return web.Response(status=204)
