"""Where a new instance goes: the least loaded host that is up, not draining and in the
inventory (placement.py decides), and the lowest free port in its range. Read under the
placement lock (db/locks.py) in the caller's transaction, so concurrent creates, starts,
moves and refills see each other's claims."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..db import hosts, ports
from ..errors import NoCapacity
from ..placement import choose_host, lowest_free_port

if TYPE_CHECKING:
    from ..db import Conn


async def place(conn: Conn, memory_mb: int, *, exclude: frozenset[str] = frozenset()) -> tuple[str, int]:
    """Host and port for a new instance; the caller holds the placement lock (db/locks.py) in
    its transaction."""
    loads = [h for h in await hosts.placeable_loads(conn) if h.name not in exclude]
    while loads:
        host = choose_host(loads, memory_mb)
        if host is None:
            break
        port = lowest_free_port(host.port_min, host.port_max, await ports.taken(conn, host.name))
        if port is not None:
            return host.name, port
        loads = [h for h in loads if h.name != host.name]  # full port range: try the next
    raise NoCapacity(f"no Docker host that is up can take another {memory_mb} MB instance")
