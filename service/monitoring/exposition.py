"""/metrics in the Prometheus text format: the gateway's request counters and latency
histograms and the collector's round timings (this process's registry), then what the
store says now: instances by engine, status and host, operations by kind and status,
per-instance gauges from the latest samples (the container's, and those each engine names:
Engine.gauges), each Docker host's data root filesystem, and open alerts."""

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
from ..engines import ENGINES

if TYPE_CHECKING:
    from ..db import Pool

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class _Families(Collector):
    def __init__(self, families: Iterable[Metric]) -> None:
        self.families = list(families)

    def collect(self) -> Iterator[Metric]:
        return iter(self.families)


_INSTANCE_LABELS = ["instance_id", "engine", "host"]
# name, help, the Sample attribute: what every container reports
_CONTAINER: list[tuple[str, str, str]] = [
    ("dbvend_instance_memory_bytes", "Container memory in use (without page cache).", "memory_bytes"),
    ("dbvend_instance_memory_limit_bytes", "Container memory limit.", "memory_limit_bytes"),
    (
        "dbvend_instance_cpu_percent",
        "Container CPU use between the last two rounds (100 = one core).",
        "cpu_percent",
    ),
    ("dbvend_instance_restart_count", "Restarts made by the container's restart policy.", "restart_count"),
]
_DISK = (
    "dbvend_instance_disk_bytes",
    "Disk used by the instance's directory (<data root>/<instance id>) on its host.",
    "disk_bytes",
)
# What the engines' probes give (each engine names its gauges): name -> help, in the order
# the engines first name them.
_ENGINE_GAUGES: dict[str, str] = {}
for _engine in ENGINES.values():
    for _gauge in _engine.gauges:
        _ENGINE_GAUGES.setdefault(_gauge.name, _gauge.help)


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _per_instance(engine: str, sample: Sample) -> Iterator[tuple[str, float]]:
    """(gauge name, value) of one instance's latest sample."""
    for name, _, attribute in _CONTAINER:
        if (value := _number(getattr(sample, attribute))) is not None:
            yield name, value
    found = ENGINES.get(engine)
    for gauge in found.gauges if found is not None else ():
        if (value := _number(sample.engine.get(gauge.key))) is not None:
            yield gauge.name, value
    if (value := _number(getattr(sample, _DISK[2]))) is not None:
        yield _DISK[0], value


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
    described = [(name, text) for name, text, _ in _CONTAINER] + [*_ENGINE_GAUGES.items(), _DISK[:2]]
    gauges = {name: GaugeMetricFamily(name, text, labels=_INSTANCE_LABELS) for name, text in described}
    for inst in live:
        sample = latest.get(inst["id"])
        if sample is None:
            continue
        labels = [inst["id"], inst["engine"], inst["host"]]
        up.add_metric(labels, 1 if sample.up else 0)
        for name, value in _per_instance(inst["engine"], sample):
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
