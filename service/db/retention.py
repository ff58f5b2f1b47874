"""Retention, in small batches so no long lock is held and no giant DELETE runs.

Two policies. `prune` (monitoring, DBVEND_RETENTION_DAYS): samples, request minutes,
delivered or failed notifications and resolved alerts; open alerts and undelivered
notifications are kept whatever their age. `prune_records` (service/operations/
retention.py): expired or revoked tokens, finished operations, deleted instances, events and
instance events (the stream's outbox, after DBVEND_RETENTION_EVENTS_DAYS).
What is still in use never goes: a pending or running operation, the latest operation of a
live instance, a live instance, a deleted instance whose container is not known to be gone
(it still holds a port claim or owes a cleanup) or that still has operations."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from . import Executor

BATCH = 5000

# table -> (time column, extra condition). Constant fragments only.
_TABLES = {
    "samples": ("at", "true"),
    "host_samples": ("at", "true"),
    "deliveries": ("created_at", "status <> 'pending'"),
    "alerts": ("ends_at", "status = 'resolved'"),
}


async def _in_batches(db: Executor, sql: str, before: datetime, batch: int) -> int:
    """Run a `DELETE ... LIMIT $2`-shaped statement until it removes fewer than a batch."""
    total = 0
    while True:
        count = int((await db.execute(sql, before, batch)).split()[-1])
        total += count
        if count < batch:
            return total


async def prune(db: Executor, before: datetime, batch: int = BATCH) -> dict[str, int]:
    """Delete monitoring rows older than `before`; returns rows removed per table."""
    removed: dict[str, int] = {}
    for table, (column, condition) in _TABLES.items():
        removed[table] = await _in_batches(
            db,
            f"DELETE FROM {table} WHERE id IN (SELECT id FROM {table}"
            f" WHERE {column} < $1 AND {condition} LIMIT $2)",
            before,
            batch,
        )
    result = await db.execute("DELETE FROM request_minutes WHERE minute < $1", before)
    removed["request_minutes"] = int(result.split()[-1])
    return removed


@dataclass(frozen=True)
class Cutoffs:
    """Rows older than these go (each is `now - the setting's days`)."""

    tokens: datetime
    operations: datetime
    deleted: datetime
    events: datetime


_TOKENS = (
    "DELETE FROM api_tokens WHERE token_hash IN (SELECT token_hash FROM api_tokens"
    " WHERE expires_at < $1 OR revoked_at < $1 LIMIT $2)"
)
# Finished operations; each live instance keeps its latest one (what it last went through).
_OPERATIONS = (
    "DELETE FROM operations WHERE id IN (SELECT o.id FROM operations o"
    " WHERE o.status IN ('succeeded', 'failed') AND o.finished_at < $1"
    " AND NOT EXISTS (SELECT 1 FROM instances i WHERE i.id = o.instance_id AND i.deleted_at IS NULL"
    "   AND o.id = (SELECT l.id FROM operations l WHERE l.instance_id = i.id"
    "               ORDER BY l.created_at DESC LIMIT 1))"
    " LIMIT $2)"
)
# Deleted instances, after their operations (foreign keys), and only once nothing says their
# container may still be there.
_DELETED = (
    "DELETE FROM instances WHERE id IN (SELECT i.id FROM instances i"
    " WHERE i.deleted_at < $1"
    " AND NOT EXISTS (SELECT 1 FROM operations o WHERE o.instance_id = i.id)"
    " AND NOT EXISTS (SELECT 1 FROM port_claims pc WHERE pc.instance_id = i.id)"
    " AND NOT EXISTS (SELECT 1 FROM host_cleanups hc WHERE hc.instance_id = i.id)"
    " LIMIT $2)"
)
_EVENTS = "DELETE FROM events WHERE id IN (SELECT id FROM events WHERE at < $1 LIMIT $2)"
_INSTANCE_EVENTS = (
    "DELETE FROM instance_events WHERE id IN (SELECT id FROM instance_events WHERE at < $1 LIMIT $2)"
)


async def prune_records(db: Executor, cutoffs: Cutoffs, batch: int = BATCH) -> dict[str, int]:
    """One pass over the records; returns rows removed per table."""
    return {
        "api_tokens": await _in_batches(db, _TOKENS, cutoffs.tokens, batch),
        "operations": await _in_batches(db, _OPERATIONS, cutoffs.operations, batch),
        "instances": await _in_batches(db, _DELETED, cutoffs.deleted, batch),
        "events": await _in_batches(db, _EVENTS, cutoffs.events, batch),
        "instance_events": await _in_batches(db, _INSTANCE_EVENTS, cutoffs.events, batch),
    }
