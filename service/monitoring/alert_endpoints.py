"""/api/v1/alerts: what monitoring found. Users see what concerns their own instances;
admins see everything, including alerts about the service itself."""

from __future__ import annotations

from aiohttp import web

from ..web.body import read_json
from ..web.contract import contract, read_query, respond
from ..web.identity import current_user, owner_filter
from ..web.params import path_int
from ..web.schemas import parse
from .requests import AckRequest, AlertListQuery
from .schemas import AlertDetail, AlertList
from .service import MonitoringService
from .views import alert_view

SERVICE = web.AppKey("monitoring", MonitoringService)
routes = web.RouteTableDef()
_ID = {"id": "alert id"}


def monitoring(request: web.Request) -> MonitoringService:
    return request.app[SERVICE]


@routes.get("/api/v1/alerts")
@contract(
    "Alerts, newest first (yours: of your instances; admins: all)",
    query=AlertListQuery,
    responses={200: AlertList},
)
async def list_alerts(request: web.Request) -> web.Response:
    query = read_query(request, AlertListQuery)
    found = await monitoring(request).alerts(
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
    alert_id = path_int(request, "id", "alert")
    alert, history = await monitoring(request).alert(alert_id, owner_id=owner_filter(current_user(request)))
    return respond(AlertDetail, alert_view(alert, history))


@routes.post("/api/v1/alerts/{id}/ack")
@contract(
    "Acknowledge a firing alert (records who, when, the comment)",
    path=_ID,
    request=AckRequest,
    responses={200: AlertDetail},
    errors=(409,),
)
async def acknowledge(request: web.Request) -> web.Response:
    user = current_user(request)
    alert_id = path_int(request, "id", "alert")
    body = parse(AckRequest, await read_json(request))
    alert, history = await monitoring(request).acknowledge(
        alert_id, user, body.comment, owner_id=owner_filter(user)
    )
    return respond(AlertDetail, alert_view(alert, history))
