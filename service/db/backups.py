"""Backups: one row per backup file in the store, who owns it and how it ended.

`completed` (with size, SHA-256 and the store path) is written in the transaction that
ends the backup's operation, after the file is in the store under its final name."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from asyncpg import Record

    from . import Executor

LIVE = "deleted_at IS NULL"


@dataclass(frozen=True)
class Backup:
    id: str
    instance_id: str
    owner_id: int
    engine: str
    status: str
    format: str
    size_bytes: int | None
    sha256: str | None
    path: str | None
    scheduled: bool
    final: bool
    error: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    deleted_at: datetime | None
    operation_id: str | None = None  # the latest backup operation that made it
    # Where the file is when it is not in the local store: an inventory host and directory.
    store_host: str | None = None
    store_dir: str | None = None
    # The instance as it is now: its name (kept after a delete) and whether it was deleted.
    instance_name: str | None = None
    instance_deleted: bool = False


_SELECT = (
    "SELECT b.*, (SELECT o.id FROM operations o WHERE o.kind = 'backup' AND o.params ? 'backup_id'"
    " AND o.params->>'backup_id' = b.id ORDER BY o.created_at DESC LIMIT 1) AS operation_id,"
    " i.name AS instance_name, i.deleted_at IS NOT NULL AS instance_deleted"
    " FROM backups b LEFT JOIN instances i ON i.id = b.instance_id"
)


def _backup(r: Record) -> Backup:
    return Backup(
        id=r["id"],
        instance_id=r["instance_id"],
        owner_id=r["owner_id"],
        engine=r["engine"],
        status=r["status"],
        format=r["format"],
        size_bytes=r["size_bytes"],
        sha256=r["sha256"],
        path=r["path"],
        scheduled=r["scheduled"],
        final=r["final"],
        error=r["error"],
        created_at=r["created_at"],
        started_at=r["started_at"],
        finished_at=r["finished_at"],
        deleted_at=r["deleted_at"],
        operation_id=r["operation_id"],
        store_host=r["store_host"],
        store_dir=r["store_dir"],
        instance_name=r.get("instance_name"),
        instance_deleted=bool(r.get("instance_deleted")),
    )


async def insert(
    db: Executor,
    *,
    id: str,
    instance_id: str,
    owner_id: int,
    engine: str,
    format: str,
    scheduled: bool,
    final: bool,
) -> None:
    await db.execute(
        "INSERT INTO backups (id, instance_id, owner_id, engine, format, scheduled, final)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7)",
        id,
        instance_id,
        owner_id,
        engine,
        format,
        scheduled,
        final,
    )


async def get(db: Executor, backup_id: str, *, owner_id: int | None = None) -> Backup | None:
    """A backup not deleted; with owner_id, only that user's."""
    row = await db.fetchrow(
        f"{_SELECT} WHERE b.id = $1 AND b.{LIVE} AND ($2::bigint IS NULL OR b.owner_id = $2)",
        backup_id,
        owner_id,
    )
    return _backup(row) if row else None


async def lock(db: Executor, backup_id: str, *, owner_id: int | None) -> Backup | None:
    """The backup's row, locked until the transaction ends (a delete against a restore)."""
    found = await db.fetchval(
        f"SELECT id FROM backups WHERE id = $1 AND {LIVE} AND ($2::bigint IS NULL OR owner_id = $2)"
        " FOR UPDATE",
        backup_id,
        owner_id,
    )
    return await get(db, found) if found else None


async def page(
    db: Executor,
    *,
    owner_id: int | None,
    instance_id: str | None,
    limit: int,
    after: tuple[datetime, str] | None,
) -> list[Backup]:
    """Newest first, keyset-paginated on (created_at, id)."""
    rows = await db.fetch(
        f"{_SELECT} WHERE b.{LIVE}"
        " AND ($1::bigint IS NULL OR b.owner_id = $1)"
        " AND ($2::text IS NULL OR b.instance_id = $2)"
        " AND ($3::timestamptz IS NULL OR (b.created_at, b.id) < ($3, $4))"
        " ORDER BY b.created_at DESC, b.id DESC LIMIT $5",
        owner_id,
        instance_id,
        after[0] if after else None,
        after[1] if after else None,
        limit,
    )
    return [_backup(r) for r in rows]


async def started(db: Executor, backup_id: str) -> None:
    await db.execute(
        "UPDATE backups SET status = 'running', started_at = coalesce(started_at, now())"
        " WHERE id = $1 AND status IN ('pending', 'running')",
        backup_id,
    )


async def completed(
    db: Executor,
    backup_id: str,
    *,
    size_bytes: int,
    sha256: str,
    path: str,
    store_host: str | None = None,
    store_dir: str | None = None,
) -> bool:
    result = await db.execute(
        "UPDATE backups SET status = 'completed', size_bytes = $2, sha256 = $3, path = $4, error = NULL,"
        " store_host = $5, store_dir = $6, started_at = coalesce(started_at, now()), finished_at = now()"
        " WHERE id = $1 AND status IN ('pending', 'running')",
        backup_id,
        size_bytes,
        sha256,
        path,
        store_host,
        store_dir,
    )
    return result.endswith(" 1")


async def failed(db: Executor, backup_id: str, error: str) -> None:
    await db.execute(
        "UPDATE backups SET status = 'failed', error = $2, finished_at = now()"
        " WHERE id = $1 AND status IN ('pending', 'running')",
        backup_id,
        error[:2000],
    )


async def mark_deleted(db: Executor, backup_id: str) -> bool:
    result = await db.execute(f"UPDATE backups SET deleted_at = now() WHERE id = $1 AND {LIVE}", backup_id)
    return result.endswith(" 1")


async def used_bytes(db: Executor, owner_id: int) -> int:
    """What the owner's backups take in the store (completed, not deleted)."""
    value = await db.fetchval(
        f"SELECT coalesce(sum(size_bytes), 0) FROM backups WHERE owner_id = $1 AND {LIVE}"
        " AND status = 'completed'",
        owner_id,
    )
    return int(value)


async def in_use(db: Executor, backup_id: str) -> bool:
    """An open restore or clone reads this backup's file."""
    return bool(
        await db.fetchval(
            "SELECT EXISTS (SELECT 1 FROM operations WHERE status IN ('pending', 'running')"
            " AND ((kind = 'restore' AND params ? 'backup_id' AND params->>'backup_id' = $1)"
            " OR (kind = 'create' AND params->>'restore_from' = $1)))",
            backup_id,
        )
    )


async def store_paths(db: Executor) -> dict[str, str]:
    """Every backup's status by id (deleted ones as 'deleted'): the store sweep keeps only
    what is completed or still being made."""
    rows = await db.fetch("SELECT id, status, deleted_at FROM backups")
    return {r["id"]: "deleted" if r["deleted_at"] is not None else r["status"] for r in rows}
