"""/api/v1/alerts and /api/v1/events: what monitoring found. Users see what concerns
their own instances; admins see everything, including alerts about the service itself."""

from __future__ import annotations

from aiohttp import web

from ..db import alerts as alerts_repo
from ..db import events as events_repo
from .auth import current_user, owner_filter
from .context import services
from .errors import ApiError, not_found, read_json
from .monitoring_schemas import AckRequest
from .monitoring_views import alert_view, event_view
from .params import choice_query, int_query, path_int
from .schemas import parse

routes = web.RouteTableDef()

ALERT_STATUSES = ("pending", "firing", "acknowledged", "resolved")


@routes.get("/api/v1/alerts")
async def list_alerts(request: web.Request) -> web.Response:
    svc = services(request)
    found = await alerts_repo.page(
        svc.pool,
        owner_id=owner_filter(current_user(request)),
        instance_id=request.query.get("instance_id") or None,
        status=choice_query(request, "status", ALERT_STATUSES),
        rule=request.query.get("rule") or None,
        limit=int_query(request, "limit", 100, 1, 500) or 100,
    )
    return web.json_response({"items": [alert_view(a) for a in found]})


@routes.get("/api/v1/alerts/{id}")
async def get_alert(request: web.Request) -> web.Response:
    svc = services(request)
    alert_id = path_int(request, "id", "alert")
    alert = await alerts_repo.get_visible(svc.pool, alert_id, owner_filter(current_user(request)))
    if alert is None:
        raise not_found("alert")
    history = await alerts_repo.history(svc.pool, [alert.id])
    return web.json_response(alert_view(alert, history.get(alert.id, [])))


@routes.post("/api/v1/alerts/{id}/ack")
async def acknowledge(request: web.Request) -> web.Response:
    svc = services(request)
    user = current_user(request)
    alert_id = path_int(request, "id", "alert")
    body = parse(AckRequest, await read_json(request))
    async with svc.pool.acquire() as conn, conn.transaction():
        alert, status = await alerts_repo.acknowledge(
            conn, alert_id, by=user.username, comment=body.comment, owner_id=owner_filter(user)
        )
    if alert is None and status is None:
        raise not_found("alert")
    if alert is None:
        raise ApiError(409, f"only a firing alert can be acknowledged; this one is {status}")
    history = await alerts_repo.history(svc.pool, [alert.id])
    return web.json_response(alert_view(alert, history.get(alert.id, [])))


@routes.get("/api/v1/events")
async def list_events(request: web.Request) -> web.Response:
    svc = services(request)
    limit = int_query(request, "limit", 100, 1, 1000) or 100
    rows = await events_repo.page(
        svc.pool,
        owner_id=owner_filter(current_user(request)),
        kind=request.query.get("kind") or None,
        instance_id=request.query.get("instance_id") or None,
        before_id=int_query(request, "before", None, 1, 2**62),
        limit=limit,
    )
    next_before = rows[-1]["id"] if len(rows) == limit else None
    return web.json_response({"items": [event_view(r) for r in rows], "next_before": next_before})
