"""Instance events as PostgreSQL derives them (migration 0012), with operation rows written
by hand in a scratch database: every kind, including those the worker does not run yet
(stop, start, restart, reconfigure, rotate), the rotate grace follow-up, failures,
rollbacks, webhook deliveries by subscription and tenancy, NOTIFY on commit, retention."""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest

from service.db import instance_events, retention
from service.db import webhooks as webhooks_repo
from tests.db import records


async def _types(db: asyncpg.Pool, instance_id: str) -> list[str]:
    return [e["type"] for e in await instance_events.for_instance(db, instance_id)]


async def _op(db: asyncpg.Pool, instance_id: str, kind: str, params: dict[str, Any] | None = None) -> str:
    op_id = f"op-{secrets.token_hex(6)}"
    await db.execute(
        "INSERT INTO operations (id, kind, instance_id, params) VALUES ($1, $2, $3, $4)",
        op_id,
        kind,
        instance_id,
        params or {},
    )
    return op_id


async def _finish(db: asyncpg.Pool, op_id: str, status: str = "succeeded") -> None:
    await db.execute("UPDATE operations SET status = 'running' WHERE id = $1", op_id)
    await db.execute("UPDATE operations SET status = $2, finished_at = now() WHERE id = $1", op_id, status)


async def test_create_then_running_in_order_with_the_final_status(scratch_db: asyncpg.Pool) -> None:
    owner = await records.user(scratch_db)
    iid = await records.instance(scratch_db, owner, await records.host(scratch_db), status="provisioning")
    op_id = await _op(scratch_db, iid, "create")
    async with scratch_db.acquire() as conn, conn.transaction():
        # What the worker does: the operation ends first, the instance's status follows.
        await conn.execute("UPDATE operations SET status = 'succeeded' WHERE id = $1", op_id)
        await conn.execute("UPDATE instances SET status = 'running' WHERE id = $1", iid)
    events = await instance_events.for_instance(scratch_db, iid)
    assert [(e["type"], e["status"], e["operation_id"]) for e in events] == [
        ("instance.created", "provisioning", op_id),
        ("instance.running", "running", op_id),
    ]
    assert set(events[0]) == {"id", "type", "instance_id", "status", "at", "operation_id"}
    assert events[0]["id"] < events[1]["id"]


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("stop", "instance.stopped"),
        ("start", "instance.started"),
        ("restart", "instance.restarted"),
        ("reconfigure", "instance.settings_changed"),
        ("rotate", "instance.password_rotated"),
        ("delete", "instance.deleted"),
    ],
)
async def test_each_kind_that_succeeds(scratch_db: asyncpg.Pool, kind: str, expected: str) -> None:
    owner = await records.user(scratch_db)
    iid = await records.instance(scratch_db, owner, await records.host(scratch_db))
    op_id = await _op(scratch_db, iid, kind)
    assert await _types(scratch_db, iid) == []  # accepted, not done
    await _finish(scratch_db, op_id)
    events = await instance_events.for_instance(scratch_db, iid)
    assert [(e["type"], e["operation_id"]) for e in events] == [(expected, op_id)]


async def test_silent_cases(scratch_db: asyncpg.Pool) -> None:
    """The rotate grace follow-up, a repair, a failed stop and a rolled-back success say nothing."""
    owner = await records.user(scratch_db)
    iid = await records.instance(scratch_db, owner, await records.host(scratch_db))
    await _finish(scratch_db, await _op(scratch_db, iid, "rotate", {"phase": "expire"}))
    await _finish(scratch_db, await _op(scratch_db, iid, "repair"))
    await _finish(scratch_db, await _op(scratch_db, iid, "stop"), "failed")
    op_id = await _op(scratch_db, iid, "restart")
    async with scratch_db.acquire() as conn:
        tx = conn.transaction()
        await tx.start()
        await conn.execute("UPDATE operations SET status = 'succeeded' WHERE id = $1", op_id)
        await tx.rollback()  # a crash before the commit
    assert await _types(scratch_db, iid) == []


async def test_failed_instance(scratch_db: asyncpg.Pool) -> None:
    owner = await records.user(scratch_db)
    iid = await records.instance(scratch_db, owner, await records.host(scratch_db), status="provisioning")
    op_id = await _op(scratch_db, iid, "create")
    async with scratch_db.acquire() as conn, conn.transaction():
        await conn.execute("UPDATE operations SET status = 'failed' WHERE id = $1", op_id)
        await conn.execute("UPDATE instances SET status = 'failed', error = 'x' WHERE id = $1", iid)
    await scratch_db.execute("UPDATE instances SET error = 'again' WHERE id = $1", iid)  # no change of status
    events = await instance_events.for_instance(scratch_db, iid)
    assert [(e["type"], e["status"], e["operation_id"]) for e in events] == [
        ("instance.created", "provisioning", op_id),
        ("instance.failed", "failed", op_id),
    ]


async def test_webhook_deliveries_by_subscription_and_owner(scratch_db: asyncpg.Pool) -> None:
    alice, bob = await records.user(scratch_db), await records.user(scratch_db)
    admin = await records.user(scratch_db)
    await scratch_db.execute("UPDATE users SET is_admin = true WHERE id = $1", admin)
    hooks = {
        name: await webhooks_repo.create(scratch_db, owner, f"https://{name}.example/", True, events=events)
        for name, owner, events in (
            ("alice", alice, ["instances"]),
            ("alice-alerts", alice, ["alerts"]),
            ("bob", bob, ["alerts", "instances"]),
            ("admin", admin, ["instances"]),
        )
    }
    iid = await records.instance(scratch_db, alice, await records.host(scratch_db))
    await _finish(scratch_db, await _op(scratch_db, iid, "stop"))
    rows = await scratch_db.fetch(
        "SELECT webhook_id, payload FROM deliveries WHERE payload->>'instance_id' = $1", iid
    )
    got = {r["webhook_id"]: r["payload"] for r in rows}
    assert set(got) == {hooks["alice"].id, hooks["admin"].id}
    assert got[hooks["alice"].id]["type"] == "instance.stopped"
    assert "secret" not in json.dumps(got[hooks["alice"].id])


@contextlib.asynccontextmanager
async def _listening(db: asyncpg.Pool) -> AsyncIterator[asyncio.Queue[dict[str, Any]]]:
    heard: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    def hear(*args: Any) -> None:
        heard.put_nowait(json.loads(args[3]))

    async with db.acquire() as listener:
        await listener.add_listener(instance_events.CHANNEL, hear)
        try:
            yield heard
        finally:
            await listener.remove_listener(instance_events.CHANNEL, hear)


async def test_notify_on_commit_only(scratch_db: asyncpg.Pool) -> None:
    owner = await records.user(scratch_db)
    iid = await records.instance(scratch_db, owner, await records.host(scratch_db))
    async with _listening(scratch_db) as heard:
        op_id = await _op(scratch_db, iid, "reconfigure")
        async with scratch_db.acquire() as conn:
            tx = conn.transaction()
            await tx.start()
            await conn.execute("UPDATE operations SET status = 'succeeded' WHERE id = $1", op_id)
            await asyncio.sleep(0.5)
            assert heard.empty()
            await tx.commit()
        note = await asyncio.wait_for(heard.get(), 10)
    assert note["kind"] == "instance"
    assert note["owner_id"] == owner
    assert note["event"]["type"] == "instance.settings_changed"
    assert note["event"] == (await instance_events.for_instance(scratch_db, iid))[0]


async def test_alert_changes_are_announced_with_the_owner(scratch_db: asyncpg.Pool) -> None:
    owner = await records.user(scratch_db)
    iid = await records.instance(scratch_db, owner, await records.host(scratch_db))
    async with _listening(scratch_db) as heard:
        await scratch_db.execute(
            "INSERT INTO alerts (rule, fingerprint, status, severity, labels, instance_id, pending_since,"
            " last_true_at) VALUES ('InstanceDown', $1, 'firing', 'critical', '{}', $2, now(), now())",
            secrets.token_hex(8),
            iid,
        )
        note = await asyncio.wait_for(heard.get(), 10)
    assert note["kind"] == "alert"
    assert note["owner_id"] == owner
    assert note["event"]["type"] == "alert"
    assert note["event"]["status"] == "firing"


async def test_retention_prunes_old_events(scratch_db: asyncpg.Pool) -> None:
    owner = await records.user(scratch_db)
    iid = await records.instance(scratch_db, owner, await records.host(scratch_db))
    await _finish(scratch_db, await _op(scratch_db, iid, "restart"))
    await _finish(scratch_db, await _op(scratch_db, iid, "stop"))
    await scratch_db.execute(
        "UPDATE instance_events SET at = now() - interval '30 days'"
        " WHERE id = (SELECT min(id) FROM instance_events WHERE instance_id = $1)",
        iid,
    )
    now = datetime.now(UTC)
    far = now - timedelta(days=3650)
    removed = await retention.prune_records(
        scratch_db,
        retention.Cutoffs(tokens=far, operations=far, deleted=far, events=now - timedelta(days=14)),
    )
    assert removed["instance_events"] >= 1
    assert await _types(scratch_db, iid) == ["instance.stopped"]
