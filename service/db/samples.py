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
