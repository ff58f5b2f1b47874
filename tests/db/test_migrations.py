from __future__ import annotations

import asyncpg

from service.db.migrate import migrate
from tests.helpers import create_database, drop_database


async def test_migrations_build_the_schema_and_are_idempotent() -> None:
    url = await create_database(migrated=False)
    try:
        conn = await asyncpg.connect(url)
        try:
            first = await migrate(conn)
            second = await migrate(conn)
            tables = {
                r["tablename"]
                for r in await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
            }
        finally:
            await conn.close()
    finally:
        await drop_database(url)
    assert first
    assert first[0].startswith("0001")
    assert second == []
    assert {"users", "api_tokens", "hosts", "instances", "port_claims", "operations"} <= tables


async def test_a_port_cannot_be_claimed_twice(db: asyncpg.Pool) -> None:
    async with db.acquire() as conn:
        tx = conn.transaction()
        await tx.start()
        try:
            await conn.execute(
                "INSERT INTO hosts (name, address, port_min, port_max, capacity_mb, data_root)"
                " VALUES ('h-test', '127.0.0.1', 1, 2, 1, '/x')"
            )
            await conn.execute(
                "INSERT INTO port_claims (host, port, blocked_until) VALUES ('h-test', 1, now())"
            )
            try:
                await conn.execute(
                    "INSERT INTO port_claims (host, port, blocked_until) VALUES ('h-test', 1, now())"
                )
            except asyncpg.UniqueViolationError:
                pass
            else:
                raise AssertionError("a second claim on the same host:port was accepted")
        finally:
            await tx.rollback()
