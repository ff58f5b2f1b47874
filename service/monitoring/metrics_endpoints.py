"""/metrics (Prometheus text format, outside /api/v1 and without authentication: keep it
on a network only the scraper reaches) and /api/v1/instances/{id}/metrics (recent
samples of one of the caller's instances)."""

from __future__ import annotations

from aiohttp import web

from ..web.contract import contract, read_query, respond
from ..web.identity import current_user, owner_filter
from . import exposition
from .alert_endpoints import monitoring
from .requests import HISTORY_POINTS, HISTORY_RANGES, MetricsHistoryQuery, MetricsQuery
from .schemas import InstanceMetrics, MetricsHistory
from .views import sample_view

routes = web.RouteTableDef()


@routes.get("/metrics")
@contract(
    "Prometheus metrics (text format 0.0.4), outside /api/v1",
    description="No token needed: expose it only where the scraper reaches it. HTTP request counters and "
    "latency histograms by route template, collection rounds, instances by engine/status/host, operations "
    "by kind/status, per-instance gauges (memory, CPU, connections, dbvend_instance_disk_bytes), each "
    "Docker host's data root (dbvend_host_data_total_bytes, dbvend_host_data_free_bytes), open alerts, "
    "the warm pool (dbvend_pool_slots, dbvend_pool_claim_seconds, dbvend_pool_fallbacks), this process's"
    " cache of rendered instance reads (dbvend_view_cache_reads_total, dbvend_view_cache_bytes).",
    public=True,
    responses={200: None},
    raw={200: exposition.CONTENT_TYPE},
)
async def metrics(request: web.Request) -> web.Response:
    body = await monitoring(request).exposition()
    return web.Response(body=body, headers={"Content-Type": exposition.CONTENT_TYPE})


@routes.get("/api/v1/instances/{id}/metrics")
@contract(
    "Recent monitoring samples of one of your instances, newest first",
    path={"id": "instance id"},
    query=MetricsQuery,
    responses={200: InstanceMetrics},
)
async def instance_metrics(request: web.Request) -> web.Response:
    svc = monitoring(request)
    inst = await svc.instance(request.match_info["id"], owner_id=owner_filter(current_user(request)))
    query = read_query(request, MetricsQuery)
    found = await svc.samples(inst, since=query.since, limit=query.limit)
    return respond(
        InstanceMetrics,
        {
            "instance_id": inst.id,
            "engine": inst.engine,
            "collect_interval": svc.ctx.settings.collect_interval,
            "items": [sample_view(s) for s in found],
        },
    )


@routes.get("/api/v1/instances/{id}/metrics/history")
@contract(
    "One of your instance's metrics over a range (1h, 6h, 24h, 7d), in buckets",
    description=f"At most {HISTORY_POINTS} points, oldest first, each the average of the samples in its"
    " bucket (CPU, container memory with its limit, the server's own memory with its limit where the"
    " engine reports one, connections with their limit, disk use). Samples are kept"
    " DBVEND_RETENTION_DAYS; an unknown range is 422 naming `range`.",
    path={"id": "instance id"},
    query=MetricsHistoryQuery,
    responses={200: MetricsHistory},
)
async def instance_metrics_history(request: web.Request) -> web.Response:
    svc = monitoring(request)
    inst = await svc.instance(request.match_info["id"], owner_id=owner_filter(current_user(request)))
    window = read_query(request, MetricsHistoryQuery).window
    since = HISTORY_RANGES[window]
    step = since // HISTORY_POINTS
    points = await svc.history(inst, since=since, step=step)
    return respond(
        MetricsHistory,
        {
            "instance_id": inst.id,
            "engine": inst.engine,
            "range": window,
            "step_seconds": step,
            "collect_interval": svc.ctx.settings.collect_interval,
            "points": points,
        },
    )
