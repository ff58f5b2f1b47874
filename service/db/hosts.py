"""Docker hosts as PostgreSQL sees them: what the inventory said plus state and load."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from ..inventory import DockerHost
from ..placement import HostLoad

if TYPE_CHECKING:
    from . import Conn, Executor


async def sync(db: Conn, hosts: Iterable[DockerHost]) -> None:
    """Upsert the inventory's hosts; hosts no longer listed stay, flagged, for their instances."""
    hosts = list(hosts)
    async with db.transaction():
        for h in hosts:
            await db.execute(
                "INSERT INTO hosts (name, address, port_min, port_max, capacity_mb, data_root, pool)"
                " VALUES ($1, $2, $3, $4, $5, $6, $7)"
                " ON CONFLICT (name) DO UPDATE SET address = $2, port_min = $3, port_max = $4,"
                " capacity_mb = $5, data_root = $6, pool = $7, in_inventory = true, updated_at = now()",
                h.name,
                h.address,
                h.port_min,
                h.port_max,
                h.capacity_mb,
                h.data_root,
                {e: {str(mb): n for mb, n in c.items()} for e, c in h.pool.items()},
            )
        await db.execute(
            "UPDATE hosts SET in_inventory = false, updated_at = now()"
            " WHERE NOT (name = ANY($1::text[])) AND in_inventory",
            [h.name for h in hosts],
        )


# A host's committed memory is that of the instances and pool slots holding a port claim
# on it: a live instance always does, and a failed or deleted one keeps its claim until its container is
# known to be gone (the worker or a background cleanup releases it then). A stopped
# instance keeps its port but not its memory, unless a start of it is open (the start
# reserved that memory when it was accepted); an open reconfigure counts at the larger of
# the old and the new size, which it reserved the same way.
_COMMITTED = (
    "SELECT host, sum(mb) AS committed_mb, count(*) AS claims FROM ("
    " SELECT pc.host, CASE WHEN i.status = 'stopped' AND NOT coalesce(o.starting, false) THEN 0"
    "   ELSE greatest(i.memory_mb, coalesce(o.resized_mb, 0)) END AS mb FROM port_claims pc"
    " JOIN instances i ON i.id = pc.instance_id"
    " LEFT JOIN LATERAL (SELECT bool_or(op.kind = 'start') AS starting,"
    "   max((op.params->>'memory_mb')::int) FILTER (WHERE op.kind = 'reconfigure') AS resized_mb"
    "   FROM operations op WHERE op.instance_id = i.id AND op.status IN ('pending', 'running')"
    "   AND op.kind IN ('start', 'reconfigure')) o ON true"
    # Pool slots (warming, ready, claiming, broken) hold memory until their container is
    # gone: their claim is removed with the row, and moves to the instance on a claim.
    " UNION ALL SELECT pc.host, s.memory_mb FROM port_claims pc JOIN pool_slots s ON s.id = pc.slot_id"
    ") held GROUP BY host"
)


async def load_of(db: Executor, name: str) -> HostLoad | None:
    """One host's load, whatever its state (a start or a resize stays on its host)."""
    row = await db.fetchrow(
        "SELECT h.name, h.capacity_mb, h.port_min, h.port_max,"
        " coalesce(c.committed_mb, 0) AS committed_mb, coalesce(c.claims, 0) AS instances"
        f" FROM hosts h LEFT JOIN ({_COMMITTED}) c ON c.host = h.name WHERE h.name = $1",
        name,
    )
    if row is None:
        return None
    return HostLoad(
        row["name"],
        row["capacity_mb"],
        int(row["committed_mb"]),
        int(row["instances"]),
        row["port_min"],
        row["port_max"],
    )


async def placeable_loads(db: Executor) -> list[HostLoad]:
    """Load of every host that may take new instances (up, in the inventory)."""
    rows = await db.fetch(
        "SELECT h.name, h.capacity_mb, h.port_min, h.port_max,"
        " coalesce(c.committed_mb, 0) AS committed_mb, coalesce(c.claims, 0) AS instances"
        f" FROM hosts h LEFT JOIN ({_COMMITTED}) c ON c.host = h.name"
        " WHERE h.state = 'up' AND NOT h.draining AND h.in_inventory"
        " ORDER BY h.name"
    )
    return [
        HostLoad(
            r["name"],
            r["capacity_mb"],
            int(r["committed_mb"]),
            int(r["instances"]),
            r["port_min"],
            r["port_max"],
        )
        for r in rows
    ]


async def draining_up(db: Executor) -> list[str]:
    """Hosts that are up and in the inventory but draining (nothing new is placed there)."""
    rows = await db.fetch("SELECT name FROM hosts WHERE state = 'up' AND draining AND in_inventory")
    return [r["name"] for r in rows]


async def overview(db: Executor) -> list[dict[str, Any]]:
    """Every known host with its load and owed cleanups, for the admin's fleet view."""
    rows = await db.fetch(
        "SELECT h.*, coalesce(c.committed_mb, 0) AS committed_mb,"
        " (SELECT count(*) FROM instances i WHERE i.host = h.name AND i.deleted_at IS NULL) AS instances,"
        " (SELECT count(*) FROM host_cleanups hc WHERE hc.host = h.name AND hc.status = 'pending')"
        "   AS cleanups_pending,"
        " (SELECT count(*) FROM host_cleanups hc WHERE hc.host = h.name AND hc.status = 'failed')"
        "   AS cleanups_failed"
        f" FROM hosts h LEFT JOIN ({_COMMITTED}) c ON c.host = h.name"
        " ORDER BY h.name"
    )
    return [dict(r) for r in rows]


async def set_health(
    db: Executor, name: str, *, up: bool, reason: str | None, server_version: str | None = None
) -> str | None:
    """Record a check; returns the previous state when it changed, else None."""
    row = await db.fetchrow(
        "UPDATE hosts h SET state = $2, reason = $3, last_check = now(),"
        " server_version = coalesce($4, h.server_version), updated_at = now()"
        " FROM (SELECT name, state AS before FROM hosts WHERE name = $1 FOR UPDATE) old"
        " WHERE h.name = old.name RETURNING old.before",
        name,
        "up" if up else "down",
        reason,
        server_version,
    )
    if row is None or row["before"] == ("up" if up else "down"):
        return None
    return str(row["before"])


async def set_draining(db: Executor, name: str, draining: bool) -> bool:
    result = await db.execute(
        "UPDATE hosts SET draining = $2, updated_at = now() WHERE name = $1", name, draining
    )
    return result.endswith(" 1")


async def add_cleanup(db: Executor, host: str, instance_id: str, reason: str) -> None:
    await db.execute(
        "INSERT INTO host_cleanups (host, instance_id, reason) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
        host,
        instance_id,
        reason,
    )


async def cleanups(db: Executor, host: str) -> list[str]:
    """Cleanups due on this host. One whose instance lives on the host again (a create that
    was retried there and runs) is moot and dropped; one whose instance has an operation in
    flight there waits for it."""
    await db.execute(
        "DELETE FROM host_cleanups hc USING instances i WHERE hc.instance_id = i.id AND hc.host = $1"
        " AND i.host = $1 AND i.deleted_at IS NULL AND i.status = 'running'",
        host,
    )
    rows = await db.fetch(
        "SELECT hc.instance_id FROM host_cleanups hc JOIN instances i ON i.id = hc.instance_id"
        " WHERE hc.host = $1 AND hc.status = 'pending' AND hc.next_attempt_at <= now()"
        " AND NOT (i.host = $1 AND i.deleted_at IS NULL AND i.status IN ('provisioning', 'deleting'))"
        " ORDER BY hc.created_at",
        host,
    )
    return [r["instance_id"] for r in rows]


async def cleanup_done(db: Executor, host: str, instance_ids: list[str]) -> None:
    await db.execute(
        "DELETE FROM host_cleanups WHERE host = $1 AND instance_id = ANY($2)", host, instance_ids
    )


async def cleanup_failed(
    db: Executor, host: str, instance_id: str, error: str, *, base_delay: float, max_attempts: int
) -> bool:
    """Count a failed try and back off (base_delay doubling, at most an hour); after
    max_attempts the cleanup is 'failed' (it keeps the port claim and waits for an admin).
    Returns True when it has just become failed."""
    row = await db.fetchrow(
        "UPDATE host_cleanups SET attempts = attempts + 1, last_error = $3,"
        " next_attempt_at = now() + make_interval(secs => least(3600, $4 * power(2, attempts))),"
        " status = CASE WHEN attempts + 1 >= $5 THEN 'failed' ELSE 'pending' END"
        " WHERE host = $1 AND instance_id = $2 RETURNING status",
        host,
        instance_id,
        error,
        float(base_delay),
        max_attempts,
    )
    return row is not None and row["status"] == "failed"


async def retry_failed_cleanups(db: Executor) -> int:
    """An admin's inventory reload gives failed cleanups another round of attempts."""
    result = await db.execute(
        "UPDATE host_cleanups SET status = 'pending', attempts = 0, next_attempt_at = now()"
        " WHERE status = 'failed'"
    )
    return int(result.split()[-1])
