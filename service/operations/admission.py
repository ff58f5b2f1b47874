"""What a request on an existing instance checks before its operation is recorded
(db.operations.record), in the transaction that records it: the instance's row lock (so two
requests on one instance are decided one after the other), the status the request starts
from, its host still in the inventory, no other operation open, and room on the host for
what the request adds. A refusal raises a Conflict (or HostFull) and records nothing."""

from __future__ import annotations

from collections.abc import Collection
from typing import TYPE_CHECKING

from ..db import hosts, instances, locks, operations
from ..errors import Conflict, HostFull

if TYPE_CHECKING:
    from ..db import Conn

RELOAD_HINT = "POST /api/v1/hosts/reload"


async def lock(conn: Conn, instance_id: str, owner_id: int | None) -> instances.Locked | None:
    """The live instance's row, locked until the transaction ends; None when the caller has
    no such instance (another owner's included)."""
    return await instances.lock_live(conn, instance_id, owner_id=owner_id)


def needs_status(
    row: instances.Locked,
    allowed: Collection[str],
    doing: str,
    *,
    needs: str | None = None,
    field: str | None = "status",
) -> None:
    """Conflict unless the instance is in one of `allowed`: "<doing> needs it <needs>"."""
    if row.status not in allowed:
        wanted = needs or " or ".join(allowed)
        raise Conflict(f"instance {row.id} is {row.status}; {doing} needs it {wanted}", field=field)


def in_inventory(row: instances.Locked, then: str | None = "first") -> None:
    """Conflict when the instance's host has left the inventory: nothing could act on its
    container there. `then` ends the hint to put it back (None: no hint)."""
    if row.host_in_inventory:
        return
    message = f"instance {row.id} is on host {row.host!r}, which is not in the inventory"
    if then is not None:
        message += f": put {row.host!r} back in the inventory ({RELOAD_HINT}) {then}"
    raise Conflict(message)


async def not_busy(conn: Conn, instance_id: str, doing: str) -> None:
    """Conflict while another operation on the instance is open (one at a time)."""
    busy = await operations.open_for(conn, instance_id)
    if busy:
        op = busy[0]
        raise Conflict(
            f"instance {instance_id} is busy: operation {op.id} ({op.kind}) is {op.status};"
            f" {doing} can be asked for once it has ended"
        )


async def fits(conn: Conn, host: str, memory_mb: int, instance_id: str) -> None:
    """HostFull unless the instance's host has `memory_mb` more free. Under placement's lock,
    so a create cannot take the memory between check and record (the open operation
    reserves it from then on: db/hosts.py _COMMITTED)."""
    await locks.placement(conn)
    load = await hosts.load_of(conn, host)
    if load is None or not load.fits(memory_mb):
        free = max(0, load.capacity_mb - load.committed_mb) if load else 0
        raise HostFull(f"host {host} has {free} MB free; instance {instance_id} needs {memory_mb} MB more")
