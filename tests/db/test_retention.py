"""Retention against the real PostgreSQL: aged rows made with SQL, one prune pass, then
what went and what stayed. Batches of 2 so every table takes several rounds."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from service.db import retention
from tests.db import records


@pytest.fixture
def db(scratch_db: asyncpg.Pool) -> asyncpg.Pool:
    """Hand-made rows go to a database of their own (tests/conftest.py, scratch_db)."""
    return scratch_db


DAY = timedelta(days=1)


async def _age(db: asyncpg.Pool, table: str, column: str, key: str, value: str, days: int) -> None:
    # Table and column names are this file's constants.
    sql = f"UPDATE {table} SET {column} = now() - make_interval(days => $2) WHERE {key} = $1"  # noqa: S608
    await db.execute(sql, value, days)


async def _exists(db: asyncpg.Pool, table: str, key: str, value: object) -> bool:
    sql = f"SELECT EXISTS (SELECT 1 FROM {table} WHERE {key} = $1)"  # noqa: S608 - constants
    return bool(await db.fetchval(sql, value))


async def test_one_pass_prunes_what_is_old_and_keeps_what_is_in_use(db: asyncpg.Pool) -> None:
    owner, host = await records.user(db), await records.host(db)

    # Tokens: expired long ago, revoked long ago, valid.
    tokens = {name: secrets.token_bytes(32) for name in ("expired", "revoked", "valid")}
    for name, digest in tokens.items():
        await db.execute(
            "INSERT INTO api_tokens (token_hash, user_id, expires_at, revoked_at) VALUES ($1, $2, $3, $4)",
            digest,
            owner,
            datetime.now(UTC) + (-3 * DAY if name == "expired" else DAY),
            datetime.now(UTC) - 3 * DAY if name == "revoked" else None,
        )

    # A running instance whose operations are all old: its older ones go, its latest stays.
    running = await records.instance(db, owner, host)
    old_create = await records.operation(db, running, status="succeeded")
    latest_repair = await records.operation(db, running, status="failed", kind="repair")
    for op_id, age in ((old_create, 90), (latest_repair, 60)):
        await _age(db, "operations", "created_at", "id", op_id, age)
        await _age(db, "operations", "finished_at", "id", op_id, age)
    # A pending operation, however old, stays (and so does its instance).
    waiting = await records.instance(db, owner, host, status="provisioning")
    pending = await records.operation(db, waiting)
    await _age(db, "operations", "created_at", "id", pending, 90)

    # Deleted instances: old with old operations (both go, operations first); old but still
    # holding its port claim (container not known gone: stays); old but owing a cleanup
    # (stays); deleted yesterday (stays).
    gone = await records.instance(db, owner, host, status="deleted", claim=False)
    gone_ops = [await records.operation(db, gone, status="succeeded", kind=k) for k in ("create", "delete")]
    claimed = await records.instance(db, owner, host, status="deleted")
    owing = await records.instance(db, owner, host, status="deleted", claim=False)
    await db.execute(
        "INSERT INTO host_cleanups (host, instance_id, reason) VALUES ($1, $2, 'test')", host, owing
    )
    recent = await records.instance(db, owner, host, status="deleted", claim=False)
    for iid, age in ((gone, 60), (claimed, 60), (owing, 60), (recent, 1)):
        await _age(db, "instances", "deleted_at", "id", iid, age)
    for op_id in gone_ops:
        await _age(db, "operations", "finished_at", "id", op_id, 60)

    # Events: old and recent.
    old_event, new_event = [
        await db.fetchval(
            "INSERT INTO events (at, kind, source, message) VALUES (now() - make_interval(days => $1),"
            " 'test', 'worker', 'm') RETURNING id",
            days,
        )
        for days in (20, 2)
    ]

    now = datetime.now(UTC)
    removed = await retention.prune_records(
        db,
        retention.Cutoffs(
            tokens=now - DAY, operations=now - 30 * DAY, deleted=now - 30 * DAY, events=now - 14 * DAY
        ),
        batch=2,
    )

    assert not await _exists(db, "api_tokens", "token_hash", tokens["expired"])
    assert not await _exists(db, "api_tokens", "token_hash", tokens["revoked"])
    assert await _exists(db, "api_tokens", "token_hash", tokens["valid"])
    assert not await _exists(db, "operations", "id", old_create)
    assert await _exists(db, "operations", "id", latest_repair)
    assert await _exists(db, "operations", "id", pending)
    assert await _exists(db, "instances", "id", running)
    assert await _exists(db, "instances", "id", waiting)
    for op_id in gone_ops:
        assert not await _exists(db, "operations", "id", op_id)
    assert not await _exists(db, "instances", "id", gone)
    for kept in (claimed, owing, recent):
        assert await _exists(db, "instances", "id", kept)
    assert not await _exists(db, "events", "id", old_event)
    assert await _exists(db, "events", "id", new_event)
    assert removed["operations"] >= 3
    assert removed["instances"] >= 1
    assert removed["api_tokens"] >= 2

    # A second pass finds nothing more of these.
    again = await retention.prune_records(
        db,
        retention.Cutoffs(
            tokens=now - DAY, operations=now - 30 * DAY, deleted=now - 30 * DAY, events=now - 14 * DAY
        ),
    )
    assert await _exists(db, "operations", "id", latest_repair)
    assert again["instances"] == 0
