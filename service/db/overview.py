"""Counts for the /metrics exposition: instances by engine, status and host; operations
by kind and status."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from . import Executor


async def instance_counts(db: Executor) -> list[tuple[str, str, str, int]]:
    rows = await db.fetch(
        "SELECT engine, status, host, count(*) AS n FROM instances WHERE deleted_at IS NULL"
        " GROUP BY engine, status, host"
    )
    return [(r["engine"], r["status"], r["host"], int(r["n"])) for r in rows]


async def operation_counts(db: Executor) -> list[tuple[str, str, int]]:
    rows = await db.fetch("SELECT kind, status, count(*) AS n FROM operations GROUP BY kind, status")
    return [(r["kind"], r["status"], int(r["n"])) for r in rows]


async def live_instances(db: Executor) -> list[dict[str, Any]]:
    """id, engine, host, owner of every live instance (labels for per-instance gauges)."""
    rows = await db.fetch(
        "SELECT i.id, i.engine, i.host, i.status, u.username AS owner FROM instances i"
        " JOIN users u ON u.id = i.owner_id WHERE i.deleted_at IS NULL ORDER BY i.id"
    )
    return [dict(r) for r in rows]
