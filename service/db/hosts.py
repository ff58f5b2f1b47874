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
                "INSERT INTO hosts (name, address, port_min, port_max, capacity_mb, data_root)"
                " VALUES ($1, $2, $3, $4, $5, $6)"
                " ON CONFLICT (name) DO UPDATE SET address = $2, port_min = $3, port_max = $4,"
                " capacity_mb = $5, data_root = $6, in_inventory = true, updated_at = now()",
                h.name,
                h.address,
                h.port_min,
                h.port_max,
                h.capacity_mb,
                h.data_root,
            )
        await db.execute(
            "UPDATE hosts SET in_inventory = false, updated_at = now()"
            " WHERE NOT (name = ANY($1::text[])) AND in_inventory",
            [h.name for h in hosts],
        )


async def placeable_loads(db: Executor) -> list[HostLoad]:
    """Load of every host that may take new instances (up, in the inventory)."""
    rows = await db.fetch(
        "SELECT h.name, h.capacity_mb, h.port_min, h.port_max,"
        " coalesce(sum(i.memory_mb), 0) AS committed_mb, count(i.id) AS instances"
        " FROM hosts h LEFT JOIN instances i"
        "   ON i.host = h.name AND i.deleted_at IS NULL AND i.status <> 'failed'"
        " WHERE h.state = 'up' AND NOT h.draining AND h.in_inventory"
        " GROUP BY h.name ORDER BY h.name"
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


async def overview(db: Executor) -> list[dict[str, Any]]:
    """Every known host with its load, for the admin's fleet view."""
    rows = await db.fetch(
        "SELECT h.*, coalesce(sum(i.memory_mb) FILTER (WHERE i.status <> 'failed'), 0) AS committed_mb,"
        " count(i.id) AS instances"
        " FROM hosts h LEFT JOIN instances i ON i.host = h.name AND i.deleted_at IS NULL"
        " GROUP BY h.name ORDER BY h.name"
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
    rows = await db.fetch("SELECT instance_id FROM host_cleanups WHERE host = $1 ORDER BY created_at", host)
    return [r["instance_id"] for r in rows]


async def cleanup_done(db: Executor, host: str, instance_ids: list[str]) -> None:
    await db.execute(
        "DELETE FROM host_cleanups WHERE host = $1 AND instance_id = ANY($2)", host, instance_ids
    )
