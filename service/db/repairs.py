"""Repairs: an operation that re-runs provision.yml for a running instance whose
container stopped behind dbvend's back. At most one open repair per instance (a partial
unique index), so a collector round that sees the container down again queues nothing."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from .operations import notify_new

if TYPE_CHECKING:
    from . import Executor


async def queue(db: Executor, operation_id: str, instance_id: str, reason: str, *, max_attempts: int) -> bool:
    """True when queued now; False when a repair is open already or the instance is not
    running (anymore), or another operation on it is open (a delete, say)."""
    row = await db.fetchrow(
        "INSERT INTO operations (id, kind, instance_id, params, max_attempts)"
        " SELECT $1, 'repair', i.id, jsonb_build_object('reason', $3::text), $4 FROM instances i"
        " WHERE i.id = $2 AND i.status = 'running' AND i.deleted_at IS NULL"
        " AND NOT EXISTS (SELECT 1 FROM operations o WHERE o.instance_id = i.id"
        "   AND o.status IN ('pending', 'running'))"
        " ON CONFLICT (instance_id) WHERE kind = 'repair' AND status IN ('pending', 'running') DO NOTHING"
        " RETURNING id",
        operation_id,
        instance_id,
        reason,
        max_attempts,
    )
    if row is None:
        return False
    await notify_new(db, operation_id)
    return True


async def settled(db: Executor, instance_ids: list[str]) -> set[str]:
    """Of these instances, those still running with no operation open on them: the only
    ones whose container state reconciliation may judge."""
    rows = await db.fetch(
        "SELECT i.id FROM instances i WHERE i.id = ANY($1::text[]) AND i.status = 'running'"
        " AND i.deleted_at IS NULL AND NOT EXISTS (SELECT 1 FROM operations o"
        "   WHERE o.instance_id = i.id AND o.status IN ('pending', 'running'))",
        instance_ids,
    )
    return {r["id"] for r in rows}


async def ended_since(db: Executor, instance_ids: list[str], since: datetime) -> set[str]:
    """Of these instances, those on which an operation ended at or after `since`: one that
    ran between two collection rounds may have restarted or recreated the container."""
    rows = await db.fetch(
        "SELECT DISTINCT instance_id FROM operations"
        " WHERE instance_id = ANY($1::text[]) AND finished_at >= $2",
        instance_ids,
        since,
    )
    return {r["instance_id"] for r in rows}
