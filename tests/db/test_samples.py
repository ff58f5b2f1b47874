"""samples.last_known: what a new monitoring leader compares the next restart count with —
the newest sample that saw the container, however old, skipping rounds that did not (host
down, container missing) — and host_samples.latest."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

import asyncpg

from service.db import host_samples, samples
from service.db.host_samples import HostSample
from service.db.samples import Sample
from service.monitoring.restarts import Baseline, baseline_of


async def test_last_known_is_the_newest_sample_that_saw_the_container(db: asyncpg.Pool) -> None:
    iid, other, never = (f"i-t{secrets.token_hex(4)}" for _ in range(3))
    now = datetime.now(UTC)
    await samples.insert_many(
        db, [Sample(iid, "running", True, restart_count=1, container_id="c1")], now - timedelta(hours=5)
    )
    await samples.insert_many(
        db, [Sample(iid, "running", True, restart_count=3, container_id="c1")], now - timedelta(hours=2)
    )
    await samples.insert_many(db, [Sample(iid, "unknown", False, error="host did not answer")], now)
    await samples.insert_many(
        db, [Sample(other, "exited", False, restart_count=2, container_id="c9")], now - timedelta(days=3)
    )

    known = await samples.last_known(db, [iid, other, never])
    assert set(known) == {iid, other}  # an instance never sampled has no baseline: zero
    assert baseline_of(known[iid]) == Baseline("c1", 3)  # 2 h old: older than `latest` looks
    assert baseline_of(known[other]) == Baseline("c9", 0)  # seen stopped
    assert await samples.latest(db, [iid]) == {iid: (await samples.latest_one(db, iid))}
    assert (await samples.latest_one(db, iid)).restart_count is None  # type: ignore[union-attr]


async def test_host_samples_latest_per_host(db: asyncpg.Pool) -> None:
    host = f"h-{secrets.token_hex(4)}"
    now = datetime.now(UTC)
    await host_samples.insert_many(db, [HostSample(host, "/data", 100, 50)], now - timedelta(minutes=3))
    await host_samples.insert_many(db, [HostSample(host, "/data", 100, 40)], now - timedelta(seconds=5))
    latest = await host_samples.latest(db, max_age_seconds=60)
    assert latest[host].free_bytes == 40
    assert latest[host].total_bytes == 100
    assert host not in await host_samples.latest(db, max_age_seconds=1)
