"""Docker hosts as PostgreSQL sees them: what the inventory said plus state and load."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

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
        " WHERE h.state = 'up' AND h.in_inventory"
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
