"""Rows for repository tests: a user, a host, instances and operations, made with SQL."""

from __future__ import annotations

import secrets

import asyncpg


async def user(db: asyncpg.Pool) -> int:
    uid: int = await db.fetchval(
        "INSERT INTO users (username, password_hash) VALUES ($1, 'x') RETURNING id",
        f"rec-{secrets.token_hex(4)}",
    )
    return uid


async def host(db: asyncpg.Pool) -> str:
    name = f"h-{secrets.token_hex(4)}"
    await db.execute(
        "INSERT INTO hosts (name, address, port_min, port_max, capacity_mb, data_root)"
        " VALUES ($1, '127.0.0.1', 1, 60000, 4096, '/x')",
        name,
    )
    return name


async def instance(
    db: asyncpg.Pool, owner: int, host_name: str, *, status: str = "running", claim: bool = True
) -> str:
    iid = f"i-{secrets.token_hex(4)}"
    port = await db.fetchval("SELECT coalesce(max(port), 0) + 1 FROM port_claims WHERE host = $1", host_name)
    await db.execute(
        "INSERT INTO instances (id, name, engine, owner_id, status, settings, memory_mb, host, port,"
        " username, secrets) VALUES ($1, $1, 'redis', $2, $3, '{}', 64, $4, $5, 'u', '\\x00')",
        iid,
        owner,
        status,
        host_name,
        port,
    )
    if claim:
        await db.execute(
            "INSERT INTO port_claims (host, port, instance_id) VALUES ($1, $2, $3)", host_name, port, iid
        )
    return iid


async def operation(
    db: asyncpg.Pool, instance_id: str, *, status: str = "pending", kind: str = "create"
) -> str:
    op_id = f"op-{secrets.token_hex(6)}"
    await db.execute(
        "INSERT INTO operations (id, kind, instance_id, status, finished_at)"
        " VALUES ($1, $2, $3, $4, CASE WHEN $4 IN ('succeeded', 'failed') THEN now() END)",
        op_id,
        kind,
        instance_id,
        status,
    )
    return op_id
