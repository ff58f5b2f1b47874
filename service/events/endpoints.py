"""/api/v1/events: what was recorded, newest first. Users see what concerns their own
instances; admins see everything, including events about the service itself."""

from __future__ import annotations

from aiohttp import web

from ..web.contract import contract, read_query, respond
from ..web.identity import current_user, owner_filter
from .schemas import EventListQuery, EventPage
from .service import EventService
from .views import event_view

SERVICE = web.AppKey("events", EventService)
routes = web.RouteTableDef()


@routes.get("/api/v1/events")
@contract(
    "Events, newest first (yours: of your instances; admins: all)",
    query=EventListQuery,
    responses={200: EventPage},
)
async def list_events(request: web.Request) -> web.Response:
    query = read_query(request, EventListQuery)
    rows = await request.app[SERVICE].page(
        owner_id=owner_filter(current_user(request)),
        kind=query.kind,
        instance_id=query.instance_id,
        before_id=query.before,
        limit=query.limit,
    )
    next_before = rows[-1]["id"] if len(rows) == query.limit else None
    return respond(EventPage, {"items": [event_view(r) for r in rows], "next_before": next_before})
