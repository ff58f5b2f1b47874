"""/metrics (Prometheus text format, outside /api/v1 and without authentication: keep it
on a network only the scraper reaches) and /api/v1/instances/{id}/metrics (recent
samples of one of the caller's instances)."""

from __future__ import annotations

from collections.abc import Iterator

from aiohttp import web
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from ..db import instances
from ..db import samples as samples_repo
from ..errors import NotFound
from ..monitoring import exposition
from ..monitoring.gateway import GATEWAY
from ..monitoring.health import stale_after
from ..pool import metrics as pool_metrics
from .auth import current_user, owner_filter
from .context import services
from .contract import contract, read_query, respond
from .monitoring_models import InstanceMetrics
from .monitoring_views import sample_view
from .queries import MetricsQuery
from .view_cache import ViewCache

routes = web.RouteTableDef()


class _ViewCacheFigures(Collector):
    """This process's cache of rendered details and list pages (service/api/view_cache.py)."""

    def __init__(self, cache: ViewCache) -> None:
        self.cache = cache

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        reads = CounterMetricFamily(
            "dbvend_view_cache_reads",
            "Instance detail and list reads of this process, by whether its cache answered.",
            labels=["result"],
        )
        reads.add_metric(["hit"], self.cache.hits)
        reads.add_metric(["miss"], self.cache.misses)
        yield reads
        yield GaugeMetricFamily(
            "dbvend_view_cache_bytes", "Bytes of rendered answers this process keeps.", value=self.cache.size
        )


def _view_cache_text(cache: ViewCache) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_ViewCacheFigures(cache))
    return generate_latest(registry)


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
    svc = services(request)
    body = await exposition.render(
        svc.pool,
        request.app[GATEWAY].registry,
        max_age_seconds=stale_after(svc.settings.collect_interval or 15.0),
    )
    body += generate_latest(pool_metrics.REGISTRY)
    body += generate_latest(await pool_metrics.depth_registry(svc.pool))
    body += _view_cache_text(svc.views)
    return web.Response(body=body, headers={"Content-Type": exposition.CONTENT_TYPE})


@routes.get("/api/v1/instances/{id}/metrics")
@contract(
    "Recent monitoring samples of one of your instances, newest first",
    path={"id": "instance id"},
    query=MetricsQuery,
    responses={200: InstanceMetrics},
)
async def instance_metrics(request: web.Request) -> web.Response:
    svc = services(request)
    inst = await instances.get(
        svc.pool, request.match_info["id"], owner_id=owner_filter(current_user(request))
    )
    if inst is None:
        raise NotFound("instance")
    query = read_query(request, MetricsQuery)
    found = await samples_repo.recent(svc.pool, inst.id, since_seconds=query.since, limit=query.limit)
    return respond(
        InstanceMetrics,
        {
            "instance_id": inst.id,
            "engine": inst.engine,
            "collect_interval": svc.settings.collect_interval,
            "items": [sample_view(s) for s in found],
        },
    )
