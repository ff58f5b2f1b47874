"""Retention of records on a schedule: one process at a time (a leader lease) prunes
tokens, finished operations, deleted instances and events every DBVEND_RETENTION_INTERVAL
seconds, each in bounded batches (db/retention.py says what is never pruned)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from ..db import retention
from ..tasks import LeaderJob

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


class RetentionJob(LeaderJob):
    lease = LEASE
    task_name = "dbvend-retention"

    def __init__(self, pool: Pool, settings: Settings, *, owner: str) -> None:
        super().__init__(pool, owner=owner)
        self.settings = settings

    def interval(self) -> float:
        return self.settings.retention_interval

    async def round(self) -> object:
        return await self.prune_once()

    async def prune_once(self) -> dict[str, int]:
        removed = await retention.prune_records(self.pool, cutoffs(self.settings, datetime.now(UTC)))
        if any(removed.values()):
            log.info("retention: removed %s", ", ".join(f"{n} {t}" for t, n in removed.items() if n))
        return removed
