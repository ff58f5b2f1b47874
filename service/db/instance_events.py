"""Instance events: the outbox PostgreSQL fills itself (migration 0012's triggers on
operations and instances), and the channel that announces each event and each alert
change to every service process."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from . import Executor

CHANNEL = "dbvend_events"

TYPES = (
    "instance.created",
    "instance.running",
    "instance.failed",
    "instance.stopped",
    "instance.started",
    "instance.restarted",
    "instance.settings_changed",
    "instance.password_rotated",
    "instance.deleted",
)


async def since(db: Executor, after_id: int, owner_id: int | None, limit: int) -> list[dict[str, Any]]:
    """Events after `after_id`, oldest first, of one owner's instances (None: everyone's),
    in the JSON shape the stream and webhooks use."""
    rows = await db.fetch(
        "SELECT dbvend_event_json(e) AS event FROM instance_events e"
        " WHERE e.id > $1 AND ($2::bigint IS NULL OR e.owner_id = $2) ORDER BY e.id LIMIT $3",
        after_id,
        owner_id,
        limit,
    )
    return [dict(r["event"]) for r in rows]


async def since_any(db: Executor, after_id: int, limit: int) -> list[tuple[int, dict[str, Any]]]:
    """(owner id, event) after `after_id` for everyone: a listener catching up after its
    connection was lost."""
    rows = await db.fetch(
        "SELECT e.owner_id, dbvend_event_json(e) AS event FROM instance_events e"
        " WHERE e.id > $1 ORDER BY e.id LIMIT $2",
        after_id,
        limit,
    )
    return [(r["owner_id"], dict(r["event"])) for r in rows]


async def latest_id(db: Executor) -> int:
    return int(await db.fetchval("SELECT coalesce(max(id), 0) FROM instance_events"))


async def for_instance(db: Executor, instance_id: str) -> list[dict[str, Any]]:
    rows = await db.fetch(
        "SELECT dbvend_event_json(e) AS event FROM instance_events e WHERE e.instance_id = $1 ORDER BY e.id",
        instance_id,
    )
    return [dict(r["event"]) for r in rows]


async def alive(db: Executor) -> None:
    """A round trip: a silently dropped connection does not close its socket."""
    await db.execute("SELECT 1")
