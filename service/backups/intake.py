"""Taking backup, restore and delete-backup requests: checked and recorded in one
transaction (the instance's row lock first, then the owner's for the quota), as a day-2
action is; a refused request records nothing.

backup-schedules calls request_backup (scheduled, final) and delete_backup too."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..backupstore.remote import StoreHostError
from ..backupstore.store import FORMATS
from ..config import backup_quota_default
from ..db import backups, operations, users
from ..db.ids import new_id
from ..errors import Conflict, NotFound, QuotaExceeded
from ..operations import admission
from ..operations.restorable import restorable

if TYPE_CHECKING:
    from ..backupstore.remote import StoreHosts
    from ..backupstore.store import BackupStore
    from ..db import Conn, Pool
    from ..db.users import User

log = logging.getLogger(__name__)

MIB = 1024 * 1024
BACKUP_STATUSES = ("running", "stopped")


@dataclass(frozen=True)
class Accepted:
    backup_id: str
    operation_id: str


@dataclass(frozen=True)
class RestoreAccepted:
    instance_id: str
    operation_id: str
    backup_id: str


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
    quota_mb: int | None = None,
) -> Accepted:
    """Record a backup (pending) and its operation. `quota_mb`: the configured default
    backup quota (DBVEND_QUOTA_BACKUP_MB when left out). A final backup's refusal says so:
    the delete that asked for it is refused with it."""
    default_mb = backup_quota_default() if quota_mb is None else quota_mb
    try:
        return await _record_backup(
            pool, user_or_none, instance_id, owner_id, scheduled, final, max_attempts, default_mb
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
            format=FORMATS[row.engine],
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


async def request_restore(
    pool: Pool,
    requester: User,
    instance_id: str,
    backup_id: str,
    *,
    owner_id: int | None,
    max_attempts: int,
) -> RestoreAccepted:
    """Replace a running instance's data with a backup of its owner's, in place."""
    async with pool.acquire() as conn, conn.transaction():
        row = await admission.lock(conn, instance_id, owner_id)
        if row is None:
            raise NotFound("instance")
        # The backup must be the instance owner's: a restore never moves data between users.
        await restorable(conn, backup_id, owner_id=row.owner_id, engine=row.engine, field="backup_id")
        admission.needs_status(row, ("running",), "a restore")
        admission.in_inventory(row, then=None)
        await admission.not_busy(conn, instance_id, "a restore")
        operation_id = await operations.record(
            conn,
            kind="restore",
            instance_id=instance_id,
            requested_by=requester.id,
            params={"backup_id": backup_id, "previous_status": row.status},
            max_attempts=max_attempts,
        )
    return RestoreAccepted(instance_id, operation_id, backup_id)


__all__ = [
    "Accepted",
    "RestoreAccepted",
    "delete_backup",
    "request_backup",
    "request_restore",
]
