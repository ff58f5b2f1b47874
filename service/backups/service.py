"""The backup domain's entry point (BackupService), for the REST routes, the instances
domain (a delete's final backup) and the scheduler: taking backup and delete-backup
requests, checked and recorded in one transaction (the instance's row lock first, then the
owner's for the quota) as a day-2 action is, a refused request recording nothing; reading
backups and downloading one (download.py)."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..backupstore.remote import StoreHostError, StoreHosts
from ..backupstore.store import BackupStore
from ..context import Service
from ..db import backups, instances, operations, users
from ..db.backups import Backup
from ..db.ids import new_id
from ..engines import get_engine
from ..errors import Conflict, NotFound, QuotaExceeded
from ..operations import admission
from .download import Download, open_download
from .policy import BackupPolicy

if TYPE_CHECKING:
    from contextlib import AbstractAsyncContextManager
    from datetime import datetime

    from ..context import Context
    from ..db import Conn, Pool
    from ..db.users import User

log = logging.getLogger(__name__)

MIB = 1024 * 1024
BACKUP_STATUSES = ("running", "stopped")
_BACKUP_ID = re.compile(r"b-[a-z0-9]{6,40}")


@dataclass(frozen=True)
class Accepted:
    backup_id: str
    operation_id: str


async def check_quota(conn: Conn, owner_id: int, default_mb: int) -> None:
    """Under the owner's row lock: refused once the owner's stored backups reach the limit
    (a backup's size is known only when it is made, so the one that crosses it is kept)."""
    limit_mb = await users.lock_backup_quota(conn, owner_id)
    limit = default_mb if limit_mb is None else limit_mb
    used = await backups.used_bytes(conn, owner_id)
    if used >= limit * MIB:
        used_mb = -(-used // MIB)
        raise QuotaExceeded(
            f"backup quota exceeded: your backups take {used_mb} MB of at most {limit} MB;"
            " delete some (DELETE /api/v1/backups/{id}) first",
            field="quota.backup_mb",
        )


async def request_backup(
    pool: Pool,
    user_or_none: User | None,
    instance_id: str,
    *,
    owner_id: int | None,
    scheduled: bool = False,
    final: bool = False,
    max_attempts: int,
    quota_mb: int,
) -> Accepted:
    """Record a backup (pending) and its operation. `quota_mb`: the configured default
    backup quota (DBVEND_QUOTA_BACKUP_MB). A final backup's refusal says so: the delete that
    asked for it is refused with it."""
    try:
        return await _record_backup(
            pool, user_or_none, instance_id, owner_id, scheduled, final, max_attempts, quota_mb
        )
    except Conflict as exc:
        if not final:
            raise
        raise Conflict(f"no final backup: {exc}") from None
    except QuotaExceeded as exc:
        if not final:
            raise
        raise QuotaExceeded(f"no final backup: {exc}", details=exc.details) from None


async def _record_backup(
    pool: Pool,
    user_or_none: User | None,
    instance_id: str,
    owner_id: int | None,
    scheduled: bool,
    final: bool,
    max_attempts: int,
    default_mb: int,
) -> Accepted:
    async with pool.acquire() as conn, conn.transaction():
        row = await admission.lock(conn, instance_id, owner_id)
        if row is None:
            raise NotFound("instance")
        admission.needs_status(row, BACKUP_STATUSES, "a backup")
        admission.in_inventory(row, then=None)
        await check_quota(conn, row.owner_id, default_mb)
        backup_id = new_id("b-", 10)
        await backups.insert(
            conn,
            id=backup_id,
            instance_id=instance_id,
            owner_id=row.owner_id,
            engine=row.engine,
            format=get_engine(row.engine).backup_format,
            scheduled=scheduled,
            final=final,
        )
        operation_id = await operations.record(
            conn,
            kind="backup",
            instance_id=instance_id,
            requested_by=user_or_none.id if user_or_none is not None else None,
            params={"backup_id": backup_id, "previous_status": row.status},
            max_attempts=max_attempts,
        )
    return Accepted(backup_id, operation_id)


async def delete_backup(
    pool: Pool,
    store: BackupStore,
    backup_id: str,
    *,
    owner_id: int | None,
    hosts: StoreHosts | None = None,
) -> bool:
    """Mark the backup deleted and remove its file (on its store host when it has one);
    False when there is none for this caller. Conflict while it is being made or a restore
    or clone reads it."""
    async with pool.acquire() as conn, conn.transaction():
        found = await backups.lock(conn, backup_id, owner_id=owner_id)
        if found is None:
            return False
        if found.status in ("pending", "running"):
            raise Conflict(
                f"backup {backup_id} is {found.status}; delete it once it has ended", field="status"
            )
        if await backups.in_use(conn, backup_id):
            raise Conflict(f"backup {backup_id} is being restored; delete it once the restore has ended")
        await backups.mark_deleted(conn, backup_id)
    # After the commit: a crash in between leaves a file the start-up sweep removes.
    store.remove(found.path, found.id, found.format)
    if found.store_host is not None and found.store_dir is not None and found.path is not None:
        if hosts is None:
            raise RuntimeError("a backup on a store host is deleted without StoreHosts")
        try:
            await hosts.delete(found.store_host, found.store_dir, found.path)
        except StoreHostError as exc:
            # The backup is gone for its owner; the leftover is ciphertext, named here for ops.
            log.error(
                "backup %s deleted, but %s stays on %s: %s", found.id, found.path, found.store_host, exc
            )
    return True


class BackupService(Service):
    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)

    def store(self) -> BackupStore:
        return BackupStore(self.ctx.settings.backup_dir, self.ctx.box)

    def store_hosts(self) -> StoreHosts:
        return StoreHosts(self.ctx.runner, self.ctx.live_hosts)

    async def request(
        self,
        user: User | None,
        instance_id: str,
        *,
        owner_id: int | None,
        scheduled: bool = False,
        final: bool = False,
    ) -> Accepted:
        """A backup of the instance, queued (NotFound, Conflict, QuotaExceeded otherwise)."""
        return await request_backup(
            self.ctx.pool,
            user,
            instance_id,
            owner_id=owner_id,
            scheduled=scheduled,
            final=final,
            max_attempts=self.ctx.settings.max_attempts,
            quota_mb=self.ctx.settings.quota_backup_mb,
        )

    async def delete(self, backup_id: str, *, owner_id: int | None) -> bool:
        return await delete_backup(
            self.ctx.pool, self.store(), backup_id, owner_id=owner_id, hosts=self.store_hosts()
        )

    async def get(self, backup_id: str, *, owner_id: int | None = None) -> Backup | None:
        """None for an id no backup can have, or another owner's."""
        if not _BACKUP_ID.fullmatch(backup_id):
            return None
        return await backups.get(self.ctx.pool, backup_id, owner_id=owner_id)

    async def page(
        self, *, owner_id: int | None, instance_id: str | None, limit: int, after: tuple[datetime, str] | None
    ) -> list[Backup]:
        return await backups.page(
            self.ctx.pool, owner_id=owner_id, instance_id=instance_id, limit=limit, after=after
        )

    async def instance_of(self, instance_id: str, *, owner_id: int | None) -> str | None:
        """The id of the caller's live instance, or None."""
        inst = await instances.get(self.ctx.pool, instance_id, owner_id=owner_id)
        return inst.id if inst is not None else None

    def download(self, backup: Backup) -> AbstractAsyncContextManager[Download]:
        """A completed backup's plaintext, chunk by chunk (download.py)."""
        return open_download(self.ctx, self.store(), self.store_hosts(), backup)


__all__ = ["Accepted", "Backup", "BackupPolicy", "BackupService", "Download"]
