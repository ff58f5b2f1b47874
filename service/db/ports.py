"""Port claims: at most one claim per (host, port), enforced by the primary key."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from . import Executor


async def taken(db: Executor, host: str) -> set[int]:
    rows = await db.fetch(
        "SELECT port FROM port_claims WHERE host = $1"
        " AND (instance_id IS NOT NULL OR slot_id IS NOT NULL OR blocked_until > now())",
        host,
    )
    return {r["port"] for r in rows}


async def claim(db: Executor, host: str, port: int, instance_id: str) -> None:
    """Raises asyncpg.UniqueViolationError when someone else holds the port."""
    await db.execute(
        "DELETE FROM port_claims WHERE host = $1 AND port = $2 AND blocked_until <= now()", host, port
    )
    await db.execute(
        "INSERT INTO port_claims (host, port, instance_id) VALUES ($1, $2, $3)", host, port, instance_id
    )


async def block(db: Executor, host: str, port: int, seconds: int, reason: str) -> None:
    """Something outside dbvend listens on the port: keep placement away from it for a while."""
    await db.execute(
        "INSERT INTO port_claims (host, port, blocked_until, reason)"
        " VALUES ($1, $2, now() + make_interval(secs => $3), $4)",
        host,
        port,
        seconds,
        reason,
    )


async def release(db: Executor, instance_id: str) -> None:
    await db.execute("DELETE FROM port_claims WHERE instance_id = $1", instance_id)


async def release_if_gone(db: Executor, instance_id: str, host: str) -> None:
    """After a cleanup removed the container: drop the claim of an instance that is deleted
    or failed (a moved instance's claim is on its new host and stays)."""
    await db.execute(
        "DELETE FROM port_claims pc USING instances i WHERE pc.instance_id = i.id"
        " AND i.id = $1 AND pc.host = $2 AND (i.deleted_at IS NOT NULL OR i.status = 'failed')",
        instance_id,
        host,
    )
