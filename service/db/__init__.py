"""PostgreSQL access: the pool, migrations, one repository module per table, the advisory
locks (locks.py) and row ids (ids.py). All SQL for dbvend's store lives here."""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeAlias

if TYPE_CHECKING:
    import asyncpg
    from asyncpg.pool import PoolConnectionProxy

    Conn: TypeAlias = "asyncpg.Connection[asyncpg.Record] | PoolConnectionProxy[asyncpg.Record]"
    Pool: TypeAlias = "asyncpg.Pool[asyncpg.Record]"
    Executor: TypeAlias = "Conn | Pool"
