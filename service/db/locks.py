"""Every advisory lock dbvend takes, in one place: its key, and whether it lasts for a
transaction (xact: released at commit or rollback) or for a session (released by hand).

Keys are four ASCII letters read as a number, so `SELECT * FROM pg_locks` names them."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from . import Conn, Executor

# Placement: a create, a start, a bigger size, a port or host move and the pool keeper's
# refill decide on a host's ports and memory one at a time ("dbvp").
PLACEMENT = 0x64627670
# The first start's admin: one process at a time makes it ("dbvu").
FIRST_USER = 0x64627675
# One backup-schedule round at a time across processes ("dbsb").
BACKUP_ROUND = 0x64627362
# One migrator at a time across processes ("dbve").
MIGRATIONS = 0x64627665
# The CA: one process at a time makes, imports or rotates it ("dbtc", db/tls_authorities.py).
CA = 0x64627463


async def hold_for_transaction(conn: Executor, key: int) -> None:
    """Wait for the lock; it is held until the caller's transaction ends."""
    await conn.execute("SELECT pg_advisory_xact_lock($1)", key)


async def placement(conn: Executor) -> None:
    """In a transaction: no other placement decision until it ends."""
    await hold_for_transaction(conn, PLACEMENT)


@contextlib.asynccontextmanager
async def held(conn: Conn, key: int) -> AsyncIterator[None]:
    """A session lock for the block: waits for it, releases it however the block ends."""
    await conn.execute("SELECT pg_advisory_lock($1)", key)
    try:
        yield
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", key)


@contextlib.asynccontextmanager
async def taken(conn: Conn, key: int) -> AsyncIterator[bool]:
    """A session lock for the block if nobody holds it: yields whether it was taken."""
    got = bool(await conn.fetchval("SELECT pg_try_advisory_lock($1)", key))
    try:
        yield got
    finally:
        if got:
            await conn.execute("SELECT pg_advisory_unlock($1)", key)
