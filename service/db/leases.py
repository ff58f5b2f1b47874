"""Leader leases: one process at a time runs a periodic job (health checks, collection)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from . import Executor


async def acquire(db: Executor, name: str, owner: str, seconds: float) -> bool:
    """Take or renew the lease; False while another live process holds it."""
    row = await db.fetchrow(
        "INSERT INTO leader_leases (name, owner, expires_at)"
        " VALUES ($1, $2, now() + make_interval(secs => $3))"
        " ON CONFLICT (name) DO UPDATE SET owner = $2, expires_at = now() + make_interval(secs => $3)"
        " WHERE leader_leases.owner = $2 OR leader_leases.expires_at < now()"
        " RETURNING owner",
        name,
        owner,
        seconds,
    )
    return row is not None
