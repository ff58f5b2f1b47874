"""Retention: monitoring rows older than DBVEND_RETENTION_DAYS go, in small batches so no
long lock is held. Open alerts and undelivered notifications are kept whatever their age."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from . import Executor

# table -> (time column, extra condition). Constant fragments only.
_TABLES = {
    "events": ("at", "true"),
    "samples": ("at", "true"),
    "host_samples": ("at", "true"),
    "deliveries": ("created_at", "status <> 'pending'"),
    "alerts": ("ends_at", "status = 'resolved'"),
}


async def prune(db: Executor, before: datetime, batch: int = 5000) -> dict[str, int]:
    """Delete what is older than `before`; returns rows removed per table."""
    removed: dict[str, int] = {}
    for table, (column, condition) in _TABLES.items():
        total = 0
        while True:
            result = await db.execute(
                f"DELETE FROM {table} WHERE id IN (SELECT id FROM {table}"
                f" WHERE {column} < $1 AND {condition} LIMIT $2)",
                before,
                batch,
            )
            count = int(result.split()[-1])
            total += count
            if count < batch:
                break
        removed[table] = total
    result = await db.execute("DELETE FROM request_minutes WHERE minute < $1", before)
    removed["request_minutes"] = int(result.split()[-1])
    return removed
