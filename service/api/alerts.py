"""/api/v1/alerts and /api/v1/events: what monitoring found. Users see what concerns
their own instances; admins see everything, including alerts about the service itself."""

from __future__ import annotations

from aiohttp import web

from ..db import alerts as alerts_repo
from ..db import events as events_repo
from ..errors import Conflict, NotFound
from .auth import current_user, owner_filter
from .context import services
from .contract import contract, read_query, respond
from .errors import read_json
from .monitoring_models import AlertDetail, AlertList, EventPage
from .monitoring_schemas import AckRequest
from .monitoring_views import alert_view, event_view
from .params import path_int
from .queries import AlertListQuery, EventListQuery
from .schemas import parse

routes = web.RouteTableDef()
_ID = {"id": "alert id"}


@routes.get("/api/v1/alerts")
@contract(
    "Alerts, newest first (yours: of your instances; admins: all)",
    query=AlertListQuery,
    responses={200: AlertList},
)
async def list_alerts(request: web.Request) -> web.Response:
    svc = services(request)
    query = read_query(request, AlertListQuery)
    found = await alerts_repo.page(
        svc.pool,
        owner_id=owner_filter(current_user(request)),
        instance_id=query.instance_id,
        status=query.status,
        rule=query.rule,
        limit=query.limit,
    )
    return respond(AlertList, {"items": [alert_view(a) for a in found]})


@routes.get("/api/v1/alerts/{id}")
@contract("One alert with its history", path=_ID, responses={200: AlertDetail})
async def get_alert(request: web.Request) -> web.Response:
    svc = services(request)
    alert_id = path_int(request, "id", "alert")
    alert = await alerts_repo.get_visible(svc.pool, alert_id, owner_filter(current_user(request)))
    if alert is None:
        raise NotFound("alert")
    history = await alerts_repo.history(svc.pool, [alert.id])
    return respond(AlertDetail, alert_view(alert, history.get(alert.id, [])))


@routes.post("/api/v1/alerts/{id}/ack")
@contract(
    "Acknowledge a firing alert (records who, when, the comment)",
    path=_ID,
    request=AckRequest,
    responses={200: AlertDetail},
    errors=(409,),
)
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
        raise NotFound("alert")
    if alert is None:
        raise Conflict(f"only a firing alert can be acknowledged; this one is {status}")
    history = await alerts_repo.history(svc.pool, [alert.id])
    return respond(AlertDetail, alert_view(alert, history.get(alert.id, [])))


@routes.get("/api/v1/events")
@contract(
    "Events, newest first (yours: of your instances; admins: all)",
    query=EventListQuery,
    responses={200: EventPage},
)
async def list_events(request: web.Request) -> web.Response:
    svc = services(request)
    query = read_query(request, EventListQuery)
    rows = await events_repo.page(
        svc.pool,
        owner_id=owner_filter(current_user(request)),
        kind=query.kind,
        instance_id=query.instance_id,
        before_id=query.before,
        limit=query.limit,
    )
    next_before = rows[-1]["id"] if len(rows) == query.limit else None
    return respond(EventPage, {"items": [event_view(r) for r in rows], "next_before": next_before})
