"""PostgreSQL access: the pool, migrations, and one repository module per table."""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeAlias

if TYPE_CHECKING:
    import asyncpg
    from asyncpg.pool import PoolConnectionProxy

    Conn: TypeAlias = "asyncpg.Connection[asyncpg.Record] | PoolConnectionProxy[asyncpg.Record]"
    Pool: TypeAlias = "asyncpg.Pool[asyncpg.Record]"
    Executor: TypeAlias = "Conn | Pool"
