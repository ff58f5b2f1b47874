"""Scheduled backups. One service process at a time leads (a lease in PostgreSQL, like
retention): every few seconds it asks for the backups that are due and prunes completed
scheduled backups beyond each policy's `keep`. Due times come from the store (the newest
scheduled backup of each instance), so a restart or a new leader takes up where the last
one stopped; a round runs under an advisory lock and re-reads the store, so two processes
that both believe they lead (a lease handed over mid-round) still take one backup per due
time, not two."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from ..db import backup_schedules, locks
from ..errors import Conflict, NotFound, QuotaExceeded
from ..tasks import LeaderJob
from . import policy as policies

if TYPE_CHECKING:
    from ..config import Settings
    from ..db import Pool
    from .service import BackupService

log = logging.getLogger(__name__)
LEASE = "backup-schedules"


class BackupScheduler(LeaderJob):
    lease = LEASE
    task_name = "dbvend-backup-schedules"

    def __init__(self, pool: Pool, settings: Settings, backups: BackupService, *, owner: str) -> None:
        super().__init__(pool, owner=owner)
        self.settings = settings
        self.backups = backups

    def interval(self) -> float:
        return self.settings.backup_check_interval

    def lease_seconds(self) -> float:
        return max(10.0, self.interval() * 3)

    async def round(self) -> object:
        return await self.run_once()

    async def run_once(self) -> tuple[list[str], list[str]]:
        """One round: (instances a backup was asked for, backups pruned)."""
        async with self.pool.acquire() as conn, locks.taken(conn, locks.BACKUP_ROUND) as mine:
            if not mine:
                return [], []  # another process is in a round; it reads the same store
            return await self._round()

    async def _round(self) -> tuple[list[str], list[str]]:
        now = datetime.now(UTC)
        taken: list[str] = []
        pruned: list[str] = []
        for item in await backup_schedules.with_policy(self.pool):
            policy = policies.load(item.policy)
            if policy is None:
                continue
            due = policies.is_due(policy, item.last_scheduled, now, self.settings.backup_hour_seconds)
            if item.status == "running" and due and await self._take(item):
                taken.append(item.instance_id)
            pruned += await self._prune(item.instance_id, item.owner.id, policy.keep)
        if taken or pruned:
            log.info("backup schedules: asked for %d backup(s), pruned %d", len(taken), len(pruned))
        return taken, pruned

    async def _take(self, item: backup_schedules.Scheduled) -> bool:
        try:
            await self.backups.request(item.owner, item.instance_id, owner_id=item.owner.id, scheduled=True)
        except Conflict as exc:
            # Busy (another operation open) or no longer running: the next round tries again.
            log.info("scheduled backup of %s deferred: %s", item.instance_id, exc)
            return False
        except NotFound:
            return False  # deleted since the round read it
        except QuotaExceeded as exc:
            # No backup row is written, so BackupFailing cannot see this one: say it loudly.
            log.warning("scheduled backup of %s refused: %s", item.instance_id, exc)
            return False
        return True

    async def _prune(self, instance_id: str, owner_id: int, keep: int) -> list[str]:
        completed = await backup_schedules.completed_scheduled(self.pool, instance_id)
        doomed = policies.to_prune([policies.Kept(i, at) for i, at in completed], keep)
        gone: list[str] = []
        for backup_id in doomed:
            try:
                if await self.backups.delete(backup_id, owner_id=owner_id):
                    gone.append(backup_id)
            except Conflict as exc:  # a restore or clone reads it now: next round
                log.info("pruning %s deferred: %s", backup_id, exc)
        return gone
