"""/metrics (Prometheus text format, outside /api/v1 and without authentication: keep it
on a network only the scraper reaches) and /api/v1/instances/{id}/metrics (recent
samples of one of the caller's instances)."""

from __future__ import annotations

from aiohttp import web

from ..db import instances
from ..db import samples as samples_repo
from ..monitoring import exposition
from ..monitoring.gateway import GATEWAY
from ..monitoring.health import stale_after
from .auth import current_user, owner_filter
from .context import services
from .errors import not_found
from .monitoring_views import sample_view
from .params import int_query

routes = web.RouteTableDef()


@routes.get("/metrics")
async def metrics(request: web.Request) -> web.Response:
    svc = services(request)
    body = await exposition.render(
        svc.pool,
        request.app[GATEWAY].registry,
        max_age_seconds=stale_after(svc.settings.collect_interval or 15.0),
    )
    return web.Response(body=body, headers={"Content-Type": exposition.CONTENT_TYPE})


@routes.get("/api/v1/instances/{id}/metrics")
async def instance_metrics(request: web.Request) -> web.Response:
    svc = services(request)
    inst = await instances.get(
        svc.pool, request.match_info["id"], owner_id=owner_filter(current_user(request))
    )
    if inst is None:
        raise not_found("instance")
    since = int_query(request, "since", 3600, 1, 30 * 86400) or 3600
    limit = int_query(request, "limit", 240, 1, 5000) or 240
    found = await samples_repo.recent(svc.pool, inst.id, since_seconds=since, limit=limit)
    return web.json_response(
        {
            "instance_id": inst.id,
            "engine": inst.engine,
            "collect_interval": svc.settings.collect_interval,
            "items": [sample_view(s) for s in found],
        }
    )
