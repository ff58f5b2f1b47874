"""Retention of records on a schedule: one process at a time (a leader lease) prunes
tokens, finished operations, deleted instances and events every DBVEND_RETENTION_INTERVAL
seconds, each in bounded batches (db/retention.py says what is never pruned)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from ..db import leases, retention

if TYPE_CHECKING:
    from ..config import Settings
    from ..db import Pool

log = logging.getLogger(__name__)
LEASE = "retention"
# An expired or revoked token is useless at once; a day's grace keeps it for a late look.
TOKEN_GRACE = timedelta(days=1)


def cutoffs(settings: Settings, now: datetime) -> retention.Cutoffs:
    return retention.Cutoffs(
        tokens=now - TOKEN_GRACE,
        operations=now - timedelta(days=settings.retention_operations_days),
        deleted=now - timedelta(days=settings.retention_deleted_days),
        events=now - timedelta(days=settings.retention_events_days),
    )


class RetentionJob:
    def __init__(self, pool: Pool, settings: Settings, *, owner: str) -> None:
        self.pool = pool
        self.settings = settings
        self.owner = owner
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="dbvend-retention")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _loop(self) -> None:
        interval = self.settings.retention_interval
        while True:
            try:
                # Held past the next round, so a live leader keeps it and a dead one's expires.
                if await leases.acquire(self.pool, LEASE, self.owner, interval * 1.5):
                    await self.prune_once()
            except Exception:
                log.exception("retention round failed")
            await asyncio.sleep(interval)

    async def prune_once(self) -> dict[str, int]:
        removed = await retention.prune_records(self.pool, cutoffs(self.settings, datetime.now(UTC)))
        if any(removed.values()):
            log.info("retention: removed %s", ", ".join(f"{n} {t}" for t, n in removed.items() if n))
        return removed
