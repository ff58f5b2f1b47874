"""/metrics in the Prometheus text format: the gateway's request counters and latency
histograms and the collector's round timings (this process's registry), then what the
store says now: instances by engine, status and host, operations by kind and status,
per-instance gauges from the latest samples, each Docker host's data root filesystem, and
open alerts."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from ..db import alerts as alerts_repo
from ..db import host_samples as host_samples_repo
from ..db import overview
from ..db import samples as samples_repo
from ..db.samples import Sample

if TYPE_CHECKING:
    from ..db import Pool

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class _Families(Collector):
    def __init__(self, families: Iterable[Metric]) -> None:
        self.families = list(families)

    def collect(self) -> Iterator[Metric]:
        return iter(self.families)


_INSTANCE_LABELS = ["instance_id", "engine", "host"]
# name, help, how to read it from a sample
_PER_INSTANCE: list[tuple[str, str, str]] = [
    ("dbvend_instance_memory_bytes", "Container memory in use (without page cache).", "memory_bytes"),
    ("dbvend_instance_memory_limit_bytes", "Container memory limit.", "memory_limit_bytes"),
    (
        "dbvend_instance_cpu_percent",
        "Container CPU use between the last two rounds (100 = one core).",
        "cpu_percent",
    ),
    ("dbvend_instance_restart_count", "Restarts made by the container's restart policy.", "restart_count"),
    (
        "dbvend_instance_connections",
        "Client connections (Threads_connected, connected_clients).",
        "engine:connections",
    ),
    ("dbvend_instance_max_connections", "Connection limit (max_connections, maxclients).", "engine:limit"),
    ("dbvend_instance_engine_memory_bytes", "Redis used_memory.", "engine:used_memory"),
    ("dbvend_instance_engine_maxmemory_bytes", "Redis maxmemory.", "engine:maxmemory"),
    (
        "dbvend_instance_disk_bytes",
        "Disk used by the instance's directory (<data root>/<instance id>) on its host.",
        "disk_bytes",
    ),
]


def _read(sample: Sample, how: str) -> float | None:
    if how.startswith("engine:"):
        key = how[len("engine:") :]
        if key == "limit":
            value = sample.engine.get("max_connections", sample.engine.get("maxclients"))
        else:
            value = sample.engine.get(key)
    else:
        value = getattr(sample, how)
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


async def store_families(pool: Pool, max_age_seconds: float) -> list[Metric]:
    instances = GaugeMetricFamily(
        "dbvend_instances", "Instances by engine, status and host.", labels=["engine", "status", "host"]
    )
    for engine, status, host, n in await overview.instance_counts(pool):
        instances.add_metric([engine, status, host], n)
    operations = GaugeMetricFamily(
        "dbvend_operations", "Operations by kind and status.", labels=["kind", "status"]
    )
    for kind, status, n in await overview.operation_counts(pool):
        operations.add_metric([kind, status], n)

    live = [i for i in await overview.live_instances(pool) if i["status"] == "running"]
    latest = await samples_repo.latest(pool, [i["id"] for i in live], max_age_seconds=max_age_seconds)
    up = GaugeMetricFamily(
        "dbvend_instance_up",
        "1 when the container runs and the engine answers dbvend's admin account (latest round).",
        labels=_INSTANCE_LABELS,
    )
    gauges = {name: GaugeMetricFamily(name, text, labels=_INSTANCE_LABELS) for name, text, _ in _PER_INSTANCE}
    for inst in live:
        sample = latest.get(inst["id"])
        if sample is None:
            continue
        labels = [inst["id"], inst["engine"], inst["host"]]
        up.add_metric(labels, 1 if sample.up else 0)
        for name, _, how in _PER_INSTANCE:
            value = _read(sample, how)
            if value is not None:
                gauges[name].add_metric(labels, value)

    total = GaugeMetricFamily(
        "dbvend_host_data_total_bytes", "Size of the filesystem of the host's data root.", labels=["host"]
    )
    free = GaugeMetricFamily(
        "dbvend_host_data_free_bytes",
        "Bytes free (for unprivileged users) on the filesystem of the host's data root.",
        labels=["host"],
    )
    for host, disk in sorted((await host_samples_repo.latest(pool, max_age_seconds=max_age_seconds)).items()):
        if disk.total_bytes is not None and disk.free_bytes is not None:
            total.add_metric([host], disk.total_bytes)
            free.add_metric([host], disk.free_bytes)

    alerts = GaugeMetricFamily(
        "dbvend_alerts_firing",
        "Alerts firing (status firing or acknowledged) by rule and severity.",
        labels=["rule", "severity", "status"],
    )
    for rule, severity, status, n in await alerts_repo.firing_counts(pool):
        alerts.add_metric([rule, severity, status], n)
    return [instances, operations, up, *gauges.values(), total, free, alerts]


async def render(pool: Pool, registry: CollectorRegistry, *, max_age_seconds: float) -> bytes:
    store = CollectorRegistry(auto_describe=False)
    store.register(_Families(await store_families(pool, max_age_seconds)))
    return generate_latest(registry) + generate_latest(store)
