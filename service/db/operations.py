"""Operations: every create and delete, who asked, with what, and how it ended.

A worker claims open operations with FOR UPDATE SKIP LOCKED and holds a lease it
renews; an operation whose lease ran out (its worker died) is claimed again."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from asyncpg import Record

    from . import Executor


@dataclass(frozen=True)
class Operation:
    id: str
    kind: str
    instance_id: str
    requested_by: int | None
    params: dict[str, Any]
    status: str
    attempts: int
    max_attempts: int
    error: str | None
    facts: dict[str, Any] | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


def _operation(r: Record) -> Operation:
    return Operation(
        id=r["id"],
        kind=r["kind"],
        instance_id=r["instance_id"],
        requested_by=r["requested_by"],
        params=r["params"],
        status=r["status"],
        attempts=r["attempts"],
        max_attempts=r["max_attempts"],
        error=r["error"],
        facts=r["facts"],
        created_at=r["created_at"],
        started_at=r["started_at"],
        finished_at=r["finished_at"],
    )


NOTIFY_CHANNEL = "dbvend_operations"


async def insert(
    db: Executor,
    *,
    id: str,
    kind: str,
    instance_id: str,
    requested_by: int | None,
    params: dict[str, Any],
    max_attempts: int,
) -> Operation:
    row = await db.fetchrow(
        "INSERT INTO operations (id, kind, instance_id, requested_by, params, max_attempts)"
        " VALUES ($1, $2, $3, $4, $5, $6) RETURNING *",
        id,
        kind,
        instance_id,
        requested_by,
        params,
        max_attempts,
    )
    await db.execute("SELECT pg_notify($1, $2)", NOTIFY_CHANNEL, f"new:{id}")
    assert row is not None
    return _operation(row)


async def get(db: Executor, operation_id: str, *, owner_id: int | None = None) -> Operation | None:
    row = await db.fetchrow(
        "SELECT o.* FROM operations o JOIN instances i ON i.id = o.instance_id"
        " WHERE o.id = $1 AND ($2::bigint IS NULL OR i.owner_id = $2)",
        operation_id,
        owner_id,
    )
    return _operation(row) if row else None


async def latest_for(db: Executor, instance_id: str) -> Operation | None:
    row = await db.fetchrow(
        "SELECT * FROM operations WHERE instance_id = $1 ORDER BY created_at DESC LIMIT 1", instance_id
    )
    return _operation(row) if row else None


async def claim(db: Executor, worker: str, lease_seconds: int, limit: int) -> list[Operation]:
    """Take open operations: pending ones that are due, and running ones whose lease expired.
    An instance's operations run one at a time, oldest first."""
    rows = await db.fetch(
        """
        UPDATE operations o SET status = 'running', attempts = o.attempts + 1, lease_owner = $1,
               lease_expires_at = now() + make_interval(secs => $2),
               started_at = coalesce(o.started_at, now())
        WHERE o.id IN (
            SELECT c.id FROM operations c
            WHERE ((c.status = 'pending' AND c.not_before <= now())
                   OR (c.status = 'running' AND c.lease_expires_at < now()))
              AND NOT EXISTS (
                  SELECT 1 FROM operations e WHERE e.instance_id = c.instance_id
                  AND e.status IN ('pending', 'running') AND e.created_at < c.created_at)
            ORDER BY c.created_at LIMIT $3
            FOR UPDATE SKIP LOCKED)
        RETURNING o.*
        """,
        worker,
        lease_seconds,
        limit,
    )
    return sorted((_operation(r) for r in rows), key=lambda op: op.created_at)


async def renew(db: Executor, worker: str, ids: list[str], lease_seconds: int) -> None:
    await db.execute(
        "UPDATE operations SET lease_expires_at = now() + make_interval(secs => $3)"
        " WHERE id = ANY($2) AND lease_owner = $1 AND status = 'running'",
        worker,
        ids,
        lease_seconds,
    )


async def finish(
    db: Executor,
    operation_id: str,
    status: str,
    *,
    error: str | None = None,
    facts: dict[str, Any] | None = None,
) -> None:
    await db.execute(
        "UPDATE operations SET status = $2, error = $3, facts = $4, finished_at = now(),"
        " lease_owner = NULL, lease_expires_at = NULL WHERE id = $1",
        operation_id,
        status,
        error,
        facts,
    )
    await db.execute("SELECT pg_notify($1, $2)", NOTIFY_CHANNEL, f"done:{operation_id}")


async def retry_later(
    db: Executor, operation_id: str, delay_seconds: float, error: str, *, count_attempt: bool = True
) -> None:
    await db.execute(
        "UPDATE operations SET status = 'pending', error = $2, lease_owner = NULL,"
        " lease_expires_at = NULL, not_before = now() + make_interval(secs => $3),"
        " attempts = attempts - CASE WHEN $4 THEN 0 ELSE 1 END WHERE id = $1",
        operation_id,
        error,
        delay_seconds,
        count_attempt,
    )
    await db.execute("SELECT pg_notify($1, $2)", NOTIFY_CHANNEL, f"new:{operation_id}")


async def cancel_pending(db: Executor, instance_id: str, kind: str, reason: str) -> list[str]:
    """Cancel unclaimed operations of a kind (a create made moot by a delete)."""
    rows = await db.fetch(
        "UPDATE operations SET status = 'failed', error = $3, finished_at = now()"
        " WHERE instance_id = $1 AND kind = $2 AND status = 'pending' RETURNING id",
        instance_id,
        kind,
        reason,
    )
    ids = [r["id"] for r in rows]
    for op_id in ids:
        await db.execute("SELECT pg_notify($1, $2)", NOTIFY_CHANNEL, f"done:{op_id}")
    return ids


async def open_for(db: Executor, instance_id: str) -> list[Operation]:
    rows = await db.fetch(
        "SELECT * FROM operations WHERE instance_id = $1 AND status IN ('pending', 'running')"
        " ORDER BY created_at",
        instance_id,
    )
    return [_operation(r) for r in rows]
