"""The asyncpg pool: JSON columns come back as Python objects."""

from __future__ import annotations

import json

import asyncpg


async def _init_connection(conn: asyncpg.Connection) -> None:
    await conn.set_type_codec("jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


async def create_pool(dsn: str, *, min_size: int = 2, max_size: int = 20) -> asyncpg.Pool:
    pool = await asyncpg.create_pool(
        dsn, min_size=min_size, max_size=max_size, init=_init_connection, command_timeout=60
    )
    assert pool is not None
    return pool


async def _leaves_nothing(conn: asyncpg.Connection) -> None:
    """The reset of a read pool's connection: asyncpg has rolled back any transaction and
    dropped its listeners already; a single statement outside a transaction leaves no
    session state (advisory lock, cursor, LISTEN, SET) for its reset query to clear."""


async def create_read_pool(dsn: str, *, max_size: int = 8) -> asyncpg.Pool:
    """A pool for the read routes' single statements outside any transaction (token lookup,
    instance detail and list, account): without the reset query asyncpg sends on every
    release (advisory unlock, CLOSE ALL, UNLISTEN, RESET ALL), which is a second round trip
    per request. Nothing that locks, listens, sets or opens a transaction may use it."""
    pool = await asyncpg.create_pool(
        dsn,
        min_size=1,
        max_size=max_size,
        init=_init_connection,
        reset=_leaves_nothing,
        command_timeout=60,
    )
    assert pool is not None
    return pool


async def connect(dsn: str) -> asyncpg.Connection:
    """One connection of its own (a LISTEN connection), decoding JSON like the pool's."""
    conn = await asyncpg.connect(dsn, command_timeout=30)
    await _init_connection(conn)
    return conn
