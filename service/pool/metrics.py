"""What /metrics says about the pool: depth (from PostgreSQL), claim latency, fallbacks to
the cold path. Counters are this process's own (each process answers its own claims)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from ..db import pool_slots

if TYPE_CHECKING:
    from prometheus_client.metrics_core import Metric

    from ..db import Pool

REGISTRY = CollectorRegistry(auto_describe=False)
CLAIM_SECONDS = Histogram(
    "dbvend_pool_claim_seconds",
    "Create answered from the warm pool: slot taken to instance recorded (re-key and readiness included)",
    ["engine"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1.0, 2.5, 5.0, 10.0),
    registry=REGISTRY,
)
FALLBACKS = Counter(
    "dbvend_pool_fallbacks",
    "Creates that took the cold path (Ansible) instead of a pool slot, by reason:"
    " empty (no ready slot), not_claimable (settings or size no pool serves), broken (slots failed)",
    ["engine", "reason"],
    registry=REGISTRY,
)


class _Depth(Collector):
    def __init__(self, counts: dict[tuple[str, str, int, str], int]) -> None:
        self.counts = counts

    def collect(self) -> Iterator[Metric]:
        family = GaugeMetricFamily(
            "dbvend_pool_slots",
            "Warm pool slots by host, engine, size class (container MB) and status",
            labels=["host", "engine", "memory_mb", "status"],
        )
        for (host, engine, mb, status), n in sorted(self.counts.items()):
            family.add_metric([host, engine, str(mb), status], n)
        yield family


async def depth_registry(pool: Pool) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Depth(await pool_slots.live_counts(pool)))
    return registry


async def exposition(pool: Pool) -> bytes:
    """The pool's part of /metrics: this process's claims and fallbacks, and the depth the
    store says now."""
    return generate_latest(REGISTRY) + generate_latest(await depth_registry(pool))
