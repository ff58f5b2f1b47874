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


async def test_instances_made_before_tls_keep_it_off() -> None:
    """Migration 0029: a record made before TLS existed says tls off (as it runs), so only new
    instances get DBVEND_TLS_DEFAULT (shipped: required); one that says a mode keeps it."""
    from service.db.migrate import _migrations

    url = await create_database(migrated=False)
    try:
        conn = await asyncpg.connect(url)
        try:
            await conn.execute(
                "CREATE TABLE schema_migrations (name text PRIMARY KEY, applied_at timestamptz)"
            )
            for name, sql in _migrations():
                if name >= "0029":
                    break
                await conn.execute(sql)
                await conn.execute("INSERT INTO schema_migrations (name) VALUES ($1)", name)
            owner = await conn.fetchval(
                "INSERT INTO users (username, password_hash) VALUES ('old', 'x') RETURNING id"
            )
            await conn.execute(
                "INSERT INTO hosts (name, address, port_min, port_max, capacity_mb, data_root)"
                " VALUES ('h', '127.0.0.1', 20000, 20010, 1024, '/tmp/h')"
            )
            for iid, settings in (("i-before", '{"maxmemory": "64mb"}'), ("i-chosen", '{"tls": "required"}')):
                await conn.execute(
                    "INSERT INTO instances (id, name, engine, owner_id, status, settings, memory_mb, host,"
                    " port, username, secrets) VALUES ($1, $1, 'redis', $2, 'running', $3::jsonb, 64, 'h',"
                    " 20000 + length($1), 'app', '\\x00')",
                    iid,
                    owner,
                    settings,
                )
            assert [n for n in await migrate(conn) if n.startswith("0029")]
            found = {
                r["id"]: r["tls"]
                for r in await conn.fetch("SELECT id, settings->>'tls' AS tls FROM instances")
            }
        finally:
            await conn.close()
    finally:
        await drop_database(url)
    assert found == {"i-before": "off", "i-chosen": "required"}
