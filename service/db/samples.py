"""Samples: one row per instance per collection round (container state + engine metrics)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from asyncpg import Record

    from . import Executor


@dataclass(frozen=True)
class Sample:
    instance_id: str
    container_status: str
    up: bool
    restart_count: int | None = None
    restarts: int = 0
    oom_killed: bool = False
    started_at: datetime | None = None
    memory_bytes: int | None = None
    memory_limit_bytes: int | None = None
    cpu_percent: float | None = None
    cpu_usage_ns: int | None = None
    system_usage_ns: int | None = None
    online_cpus: int | None = None
    engine: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    at: datetime | None = None
    container_id: str | None = None
    disk_bytes: int | None = None  # the instance's directory on its host


_COLUMNS = (
    "instance_id",
    "at",
    "container_status",
    "up",
    "restart_count",
    "restarts",
    "oom_killed",
    "started_at",
    "memory_bytes",
    "memory_limit_bytes",
    "cpu_percent",
    "cpu_usage_ns",
    "system_usage_ns",
    "online_cpus",
    "engine",
    "error",
    "container_id",
    "disk_bytes",
)


def _sample(r: Record) -> Sample:
    return Sample(**{c: r[c] for c in _COLUMNS})


async def insert_many(db: Executor, samples: Sequence[Sample], at: datetime) -> None:
    if not samples:
        return
    placeholders = ", ".join(f"${i + 1}" for i in range(len(_COLUMNS)))
    await db.executemany(
        f"INSERT INTO samples ({', '.join(_COLUMNS)}) VALUES ({placeholders})",
        [tuple(at if c == "at" else getattr(s, c) for c in _COLUMNS) for s in samples],
    )


async def latest(
    db: Executor, instance_ids: Iterable[str] | None = None, *, max_age_seconds: float = 600
) -> dict[str, Sample]:
    """The newest sample of each instance (all live instances when ids is None)."""
    ids = list(instance_ids) if instance_ids is not None else None
    rows = await db.fetch(
        "SELECT DISTINCT ON (s.instance_id) s.* FROM samples s"
        " WHERE s.at > now() - make_interval(secs => $1)"
        " AND ($2::text[] IS NULL OR s.instance_id = ANY($2::text[]))"
        " ORDER BY s.instance_id, s.at DESC",
        max_age_seconds,
        ids,
    )
    return {r["instance_id"]: _sample(r) for r in rows}


async def last_known(db: Executor, instance_ids: Iterable[str]) -> dict[str, Sample]:
    """The newest sample of each instance that saw its container (a restart count), however
    old: what a new leader compares the next restart count with."""
    rows = await db.fetch(
        "SELECT s.* FROM unnest($1::text[]) AS i(id) CROSS JOIN LATERAL"
        " (SELECT * FROM samples WHERE instance_id = i.id AND restart_count IS NOT NULL"
        " ORDER BY at DESC LIMIT 1) s",
        list(instance_ids),
    )
    return {r["instance_id"]: _sample(r) for r in rows}


async def latest_one(db: Executor, instance_id: str) -> Sample | None:
    row = await db.fetchrow(
        "SELECT * FROM samples WHERE instance_id = $1 ORDER BY at DESC LIMIT 1", instance_id
    )
    return _sample(row) if row else None


async def recent(db: Executor, instance_id: str, *, since_seconds: float, limit: int) -> list[Sample]:
    """Newest first."""
    rows = await db.fetch(
        "SELECT * FROM samples WHERE instance_id = $1 AND at > now() - make_interval(secs => $2)"
        " ORDER BY at DESC LIMIT $3",
        instance_id,
        since_seconds,
        limit,
    )
    return [_sample(r) for r in rows]


# What every engine's probe reports its client connections as (engines/base.py CONNECTIONS).
CONNECTIONS_METRIC = "connections"


async def history(
    db: Executor,
    instance_id: str,
    *,
    since_seconds: int,
    step_seconds: int,
    engine_memory: tuple[str, str] | None,
    connection_limit: str | None,
) -> list[dict[str, Any]]:
    """The instance's samples of the last `since_seconds` in buckets of `step_seconds`
    (oldest first): averages of what varies, the largest limit and disk use, up only when
    every sample of the bucket was. `engine_memory` (used, limit) and `connection_limit`
    name the engine's own probe metrics (Engine.memory_metrics, connection_limit_metric)."""
    used_key, limit_key = engine_memory or (None, None)

    def number(key: str) -> str:  # a metric of the engine's probe, when it is a number
        return f"CASE WHEN jsonb_typeof(engine -> {key}) = 'number' THEN (engine ->> {key})::float8 END"

    rows = await db.fetch(
        "SELECT date_bin(make_interval(secs => $3), at, timestamptz 'epoch') AS at, count(*) AS samples,"
        " bool_and(up) AS up, avg(cpu_percent) AS cpu_percent, avg(memory_bytes)::bigint AS memory_bytes,"
        " max(memory_limit_bytes) AS memory_limit_bytes,"
        f" avg({number('$4::text')})::bigint AS engine_memory_bytes,"
        f" max({number('$5::text')})::bigint AS engine_memory_limit_bytes,"
        f" avg({number('$7::text')}) AS connections,"
        f" max({number('$6::text')})::bigint AS connection_limit,"
        " max(disk_bytes) AS disk_bytes"
        " FROM samples WHERE instance_id = $1 AND at > now() - make_interval(secs => $2)"
        " GROUP BY 1 ORDER BY 1",
        instance_id,
        since_seconds,
        step_seconds,
        used_key,
        limit_key,
        connection_limit,
        CONNECTIONS_METRIC,
    )
    return [dict(r) for r in rows]
