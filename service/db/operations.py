"""Operations: every create, delete and day-2 action, who asked, with what, and how it ended.

A worker claims open operations with FOR UPDATE SKIP LOCKED and holds a lease it
renews; an operation whose lease ran out (its worker died) is claimed again. Every claim
bumps the operation's lease generation: the worker's writes (renew, finish, retry_later)
carry the Lease it claimed with and match nothing once another claim has happened, so a
worker that was paused past its lease cannot record what it found when it wakes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from .ids import new_id

if TYPE_CHECKING:
    from asyncpg import Record

    from . import Executor


@dataclass(frozen=True)
class Lease:
    """The fencing token a worker holds for one claim of one operation."""

    operation_id: str
    owner: str
    generation: int


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
    lease_owner: str | None = None
    lease_generation: int = 0
    # The last worker that claimed it; kept after the end (lease_owner is not).
    worker: str | None = None

    @property
    def lease(self) -> Lease:
        return Lease(self.id, self.lease_owner or "", self.lease_generation)


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
        lease_owner=r["lease_owner"],
        lease_generation=r["lease_generation"],
        worker=r["worker"],
    )


NOTIFY_CHANNEL = "dbvend_operations"


def new_operation_id() -> str:
    return new_id("op-", 12)


async def record(
    db: Executor,
    *,
    kind: str,
    instance_id: str,
    requested_by: int | None,
    params: dict[str, Any],
    max_attempts: int,
    sealed: bytes | None = None,
    delay_seconds: float = 0,
    operation_id: str | None = None,
) -> str:
    """The one way an operation is recorded, whatever asked for it (a create, a delete, a
    day-2 action, a backup or restore, a credential, a converge, a rotation's expiry): its
    row, and the notification that wakes the workers. Returns its id (new unless given).
    `sealed`: secrets the operation needs (SecretBox-sealed, never in params);
    `delay_seconds`: not claimed before then (a password's grace period). The caller's
    checks (row locks, open operations, quotas) run in the same transaction before it."""
    operation_id = operation_id or new_operation_id()
    await db.execute(
        "INSERT INTO operations (id, kind, instance_id, requested_by, params, max_attempts, sealed,"
        " not_before) VALUES ($1, $2, $3, $4, $5, $6, $7, now() + make_interval(secs => $8))",
        operation_id,
        kind,
        instance_id,
        requested_by,
        params,
        max_attempts,
        sealed,
        float(delay_seconds),
    )
    await notify_new(db, operation_id)
    return operation_id


async def notify_new(db: Executor, operation_id: str) -> None:
    """Wake the workers: an operation is waiting."""
    await db.execute("SELECT pg_notify($1, $2)", NOTIFY_CHANNEL, f"new:{operation_id}")


async def succeed_at_once(db: Executor, operation_id: str, facts: dict[str, Any]) -> None:
    """An operation done by the request itself (a create from the warm pool): succeeded in
    the transaction that inserted it, so no worker ever claims it."""
    await db.execute(
        "UPDATE operations SET status = 'succeeded', attempts = 1, started_at = now(), finished_at = now(),"
        " facts = $2 WHERE id = $1 AND status = 'pending'",
        operation_id,
        facts,
    )
    await db.execute("SELECT pg_notify($1, $2)", NOTIFY_CHANNEL, f"done:{operation_id}")


async def get(db: Executor, operation_id: str, *, owner_id: int | None = None) -> Operation | None:
    row = await db.fetchrow(
        "SELECT o.* FROM operations o JOIN instances i ON i.id = o.instance_id"
        " WHERE o.id = $1 AND ($2::bigint IS NULL OR i.owner_id = $2)",
        operation_id,
        owner_id,
    )
    return _operation(row) if row else None


async def claim(
    db: Executor, worker: str, lease_seconds: int, limit: int, *, kinds: Sequence[str] | None = None
) -> list[Operation]:
    """Take open operations: pending ones that are due, and running ones whose lease expired.
    An instance's operations run one at a time, oldest first. With `kinds`, only operations
    of those kinds are taken: a worker that cannot run a kind (an older version, mid-upgrade)
    leaves it to one that can, and still keeps the instance's later operations behind it."""
    rows = await db.fetch(
        """
        UPDATE operations o SET status = 'running', attempts = o.attempts + 1, lease_owner = $1,
               worker = $1, lease_generation = o.lease_generation + 1,
               lease_expires_at = now() + make_interval(secs => $2),
               started_at = coalesce(o.started_at, now())
        WHERE o.id IN (
            SELECT c.id FROM operations c
            WHERE ((c.status = 'pending' AND c.not_before <= now())
                   OR (c.status = 'running' AND c.lease_expires_at < now()))
              AND NOT EXISTS (
                  SELECT 1 FROM operations e WHERE e.instance_id = c.instance_id
                  AND e.status IN ('pending', 'running') AND e.created_at < c.created_at)
              AND ($4::text[] IS NULL OR c.kind = ANY($4::text[]))
            ORDER BY c.created_at LIMIT $3
            FOR UPDATE SKIP LOCKED)
        RETURNING o.*
        """,
        worker,
        lease_seconds,
        limit,
        None if kinds is None else list(kinds),
    )
    return sorted((_operation(r) for r in rows), key=lambda op: op.created_at)


# The fence every worker write carries: still running, still this owner, still this claim.
_FENCE = "status = 'running' AND lease_owner = $2 AND lease_generation = $3"


async def renew(db: Executor, leases: list[Lease], lease_seconds: float) -> set[Lease]:
    """Extend the leases still held; returns those (the others were lost to another claim)."""
    if not leases:
        return set()
    rows = await db.fetch(
        "UPDATE operations o SET lease_expires_at = now() + make_interval(secs => $4)"
        " FROM unnest($1::text[], $2::text[], $3::bigint[]) AS l(id, owner, generation)"
        " WHERE o.id = l.id AND o.status = 'running' AND o.lease_owner = l.owner"
        " AND o.lease_generation = l.generation"
        " RETURNING o.id, o.lease_owner, o.lease_generation",
        [lease.operation_id for lease in leases],
        [lease.owner for lease in leases],
        [lease.generation for lease in leases],
        float(lease_seconds),
    )
    return {Lease(r["id"], r["lease_owner"], r["lease_generation"]) for r in rows}


async def finish(
    db: Executor,
    lease: Lease,
    status: str,
    *,
    error: str | None = None,
    facts: dict[str, Any] | None = None,
) -> bool:
    """Record the end; False (nothing written) when the lease was lost."""
    result = await db.execute(
        "UPDATE operations SET status = $4, error = $5, facts = $6, finished_at = now(),"
        " lease_owner = NULL, lease_expires_at = NULL, sealed = NULL"
        f" WHERE id = $1 AND {_FENCE}",
        lease.operation_id,
        lease.owner,
        lease.generation,
        status,
        error,
        facts,
    )
    if not result.endswith(" 1"):
        return False
    await db.execute("SELECT pg_notify($1, $2)", NOTIFY_CHANNEL, f"done:{lease.operation_id}")
    return True


async def sealed(db: Executor, operation_id: str) -> bytes | None:
    """The operation's sealed secrets (a rotation's), for the worker only."""
    value = await db.fetchval("SELECT sealed FROM operations WHERE id = $1", operation_id)
    return bytes(value) if value is not None else None


async def open_growth(db: Executor, owner_id: int) -> int:
    """Memory (MB) the owner's open resizes add on top of their instances' recorded sizes:
    a quota check counts it, so two resizes in a row cannot both pass on the old sizes."""
    value = await db.fetchval(
        "SELECT coalesce(sum(greatest(0, (o.params->>'memory_mb')::int - i.memory_mb)), 0)"
        " FROM operations o JOIN instances i ON i.id = o.instance_id"
        " WHERE i.owner_id = $1 AND i.deleted_at IS NULL AND o.kind = 'reconfigure'"
        " AND o.status IN ('pending', 'running')",
        owner_id,
    )
    return int(value)


async def retry_later(
    db: Executor, lease: Lease, delay_seconds: float, error: str, *, count_attempt: bool = True
) -> bool:
    """Hand the operation back to the queue; False (nothing written) when the lease was lost."""
    result = await db.execute(
        "UPDATE operations SET status = 'pending', error = $4, lease_owner = NULL,"
        " lease_expires_at = NULL, not_before = now() + make_interval(secs => $5),"
        f" attempts = attempts - CASE WHEN $6 THEN 0 ELSE 1 END WHERE id = $1 AND {_FENCE}",
        lease.operation_id,
        lease.owner,
        lease.generation,
        error,
        delay_seconds,
        count_attempt,
    )
    if not result.endswith(" 1"):
        return False
    await notify_new(db, lease.operation_id)
    return True


async def cancel_pending(db: Executor, instance_id: str, kind: str, reason: str) -> list[str]:
    """Cancel unclaimed operations of a kind (a create made moot by a delete)."""
    rows = await db.fetch(
        "UPDATE operations SET status = 'failed', error = $3, finished_at = now(), sealed = NULL"
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


async def running_owners(db: Executor, prefix: str) -> list[str]:
    """The lease owners of running operations whose name starts with `prefix` (this
    machine's workers: "<scope>:")."""
    rows = await db.fetch(
        "SELECT DISTINCT lease_owner FROM operations WHERE status = 'running'"
        " AND starts_with(lease_owner, $1)",
        prefix,
    )
    return [r["lease_owner"] for r in rows]


async def expire_leases_of(db: Executor, owners: list[str]) -> int:
    """Let another claim take these (dead) owners' running operations now; how many."""
    result = await db.execute(
        "UPDATE operations SET lease_expires_at = now() WHERE status = 'running' AND lease_owner = ANY($1)",
        owners,
    )
    return int(result.split()[-1])


async def page_of_instance(
    db: Executor, instance_id: str, *, limit: int, after: tuple[datetime, str] | None
) -> list[Operation]:
    """An instance's operations, newest first, keyset-paginated on (created_at, id)."""
    rows = await db.fetch(
        "SELECT * FROM operations WHERE instance_id = $1"
        " AND ($2::timestamptz IS NULL OR (created_at, id) < ($2, $3))"
        " ORDER BY created_at DESC, id DESC LIMIT $4",
        instance_id,
        after[0] if after else None,
        after[1] if after else None,
        limit,
    )
    return [_operation(r) for r in rows]
