"""What the backup scheduler and the BackupFailing condition read and write: the instances'
policies and their scheduled backups (the `backups` table is db/backups.py's; these are
the schedule's own questions about it)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from .users import User

if TYPE_CHECKING:
    from . import Executor


@dataclass(frozen=True)
class Scheduled:
    instance_id: str
    owner: User  # scheduled backups are asked for in the owner's name
    status: str
    policy: dict[str, Any]
    last_scheduled: datetime | None  # when the newest scheduled backup was asked for


@dataclass(frozen=True)
class Failing:
    instance_id: str
    backup_id: str
    error: str | None
    finished_at: datetime | None


async def set_policy(db: Executor, instance_id: str, policy: dict[str, Any] | None) -> None:
    await db.execute(
        "UPDATE instances SET backup_policy = $2, updated_at = now() WHERE id = $1 AND deleted_at IS NULL",
        instance_id,
        policy,
    )


async def with_policy(db: Executor) -> list[Scheduled]:
    """Live instances with a schedule, with their newest scheduled backup's time (any
    status, also one deleted since: it was taken, so it counts for the next due time)."""
    rows = await db.fetch(
        "SELECT i.id, i.status, i.backup_policy, u.id AS owner_id, u.username, u.is_admin, u.created_at,"
        " (SELECT max(b.created_at) FROM backups b WHERE b.instance_id = i.id AND b.scheduled) AS last"
        " FROM instances i JOIN users u ON u.id = i.owner_id"
        " WHERE i.deleted_at IS NULL AND i.backup_policy IS NOT NULL ORDER BY i.id"
    )
    return [
        Scheduled(
            r["id"],
            User(r["owner_id"], r["username"], r["is_admin"], r["created_at"]),
            r["status"],
            r["backup_policy"],
            r["last"],
        )
        for r in rows
    ]


async def completed_scheduled(db: Executor, instance_id: str) -> list[tuple[str, datetime]]:
    """The instance's completed scheduled backups still in the store (never final ones)."""
    rows = await db.fetch(
        "SELECT id, created_at FROM backups WHERE instance_id = $1 AND scheduled AND NOT final"
        " AND status = 'completed' AND deleted_at IS NULL ORDER BY created_at DESC, id DESC",
        instance_id,
    )
    return [(r["id"], r["created_at"]) for r in rows]


async def failing(db: Executor) -> list[Failing]:
    """Live instances whose newest finished scheduled backup failed: a later one that
    completes clears it; one still pending or running does not."""
    rows = await db.fetch(
        "SELECT DISTINCT ON (b.instance_id) b.instance_id, b.id, b.status, b.error, b.finished_at"
        " FROM backups b JOIN instances i ON i.id = b.instance_id AND i.deleted_at IS NULL"
        " WHERE b.scheduled AND b.status IN ('completed', 'failed')"
        " ORDER BY b.instance_id, b.created_at DESC, b.id DESC"
    )
    return [
        Failing(r["instance_id"], r["id"], r["error"], r["finished_at"])
        for r in rows
        if r["status"] == "failed"
    ]
