"""The alert lifecycle and the notification queue, driven step by step with explicit
times against a database of their own (no service running, so nothing else evaluates):
pending -> firing after `for`, one alert per fingerprint, acknowledged -> resolved once
clear for `keep_firing_for`, history, who gets notified; plus repairs queued once and
retention."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from service.db import alerts as alerts_repo
from service.db import hosts as hosts_repo
from service.db import instances as instances_repo
from service.db import repairs, retention, users
from service.db import rules as rules_repo
from service.db import webhooks as webhooks_repo
from service.db.events import Event, insert_many
from service.db.migrate import migrate
from service.db.pool import create_pool
from service.inventory import DockerHost
from service.monitoring.alerting import AlertEvaluator, fingerprint
from service.monitoring.conditions import Finding
from service.monitoring.payloads import Notifier
from tests.helpers import create_database, drop_database

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
async def pool() -> AsyncIterator[asyncpg.Pool]:
    url = await create_database()
    db = await create_pool(url, min_size=1, max_size=3)
    async with db.acquire() as conn:
        await migrate(conn)
        await hosts_repo.sync(conn, [DockerHost("h", "127.0.0.1", 30000, 30010, 1024, "/tmp/x")])
    yield db
    await db.close()
    await drop_database(url)


async def _user(pool: asyncpg.Pool, name: str, *, admin: bool = False) -> int:
    user = await users.create(pool, name, "not-a-hash", is_admin=admin)
    assert user is not None
    return user.id


async def _instance(pool: asyncpg.Pool, iid: str, owner: int, port: int) -> None:
    await instances_repo.insert(
        pool,
        id=iid,
        name=iid,
        engine="redis",
        owner_id=owner,
        settings={},
        memory_mb=72,
        host="h",
        port=port,
        username="u",
        secrets=b"x",
    )
    await instances_repo.set_status(pool, iid, "running")


async def _rule(pool: asyncpg.Pool, name: str, **values: object) -> rules_repo.Rule:
    rule = await rules_repo.create(
        pool, name, {"condition": "instance_down", "params": {}, "for_seconds": 30, **values}
    )
    assert rule is not None
    return rule


def down(iid: str) -> Finding:
    labels = {"instance_id": iid, "engine": "redis", "host": "h", "owner": "x"}
    return Finding(labels, 0.0, f"{iid}: down", iid)


async def test_pending_firing_ack_resolved_with_history(pool: asyncpg.Pool) -> None:
    owner = await _user(pool, "owner-a")
    await _instance(pool, "i-life1", owner, 30001)
    rule = await _rule(pool, "LifeDown", keep_firing_for_seconds=20)
    evaluator = AlertEvaluator(pool, Notifier("http://dbvend.test", None))

    assert await evaluator.evaluate([rule], {rule.id: [down("i-life1")]}, T0) == []
    [alert] = [a for a in await alerts_repo.open_alerts(pool) if a.rule == "LifeDown"]
    assert alert.status == "pending"
    assert alert.fingerprint == fingerprint("LifeDown", down("i-life1").labels)
    assert await evaluator.evaluate([rule], {rule.id: [down("i-life1")]}, T0 + timedelta(seconds=29)) == []
    changes = await evaluator.evaluate([rule], {rule.id: [down("i-life1")]}, T0 + timedelta(seconds=30))
    assert [(c.alert.id, c.status) for c in changes] == [(alert.id, "firing")]
    # Still one alert for the fingerprint, however often the condition holds.
    await evaluator.evaluate([rule], {rule.id: [down("i-life1")]}, T0 + timedelta(seconds=35))
    assert len([a for a in await alerts_repo.open_alerts(pool) if a.rule == "LifeDown"]) == 1

    async with pool.acquire() as conn, conn.transaction():
        acked, _ = await alerts_repo.acknowledge(
            conn, alert.id, by="oncall", comment="looking", owner_id=None
        )
    assert acked is not None
    assert acked.status == "acknowledged"
    assert acked.acknowledged_by == "oncall"
    # Clear, but for less than keep_firing_for (20 s after the last true evaluation at +35 s).
    assert await evaluator.evaluate([rule], {rule.id: []}, T0 + timedelta(seconds=50)) == []
    assert (await alerts_repo.get_visible(pool, alert.id, None)).status == "acknowledged"  # type: ignore[union-attr]
    changes = await evaluator.evaluate([rule], {rule.id: []}, T0 + timedelta(seconds=56))
    assert [(c.alert.id, c.status) for c in changes] == [(alert.id, "resolved")]
    resolved = await alerts_repo.get_visible(pool, alert.id, None)
    assert resolved is not None
    assert resolved.ends_at == T0 + timedelta(seconds=56)
    history = (await alerts_repo.history(pool, [alert.id]))[alert.id]
    assert [h["status"] for h in history] == ["pending", "firing", "acknowledged", "resolved"]
    assert history[2]["actor"] == "oncall"
    assert history[2]["comment"] == "looking"

    # The same series failing again is a new alert with the same fingerprint.
    await evaluator.evaluate([rule], {rule.id: [down("i-life1")]}, T0 + timedelta(seconds=100))
    [again] = [a for a in await alerts_repo.open_alerts(pool) if a.rule == "LifeDown"]
    assert again.id != alert.id
    assert again.fingerprint == alert.fingerprint
    assert again.status == "pending"
    # Cleared before `for` elapsed: it never fired, so it is dropped without a trace.
    assert await evaluator.evaluate([rule], {rule.id: []}, T0 + timedelta(seconds=110)) == []
    assert await alerts_repo.get_visible(pool, again.id, None) is None


async def test_notifications_go_to_who_may_see_them(pool: asyncpg.Pool) -> None:
    admin = await _user(pool, "admin-n", admin=True)
    alice = await _user(pool, "alice-n")
    bob = await _user(pool, "bob-n")
    await _instance(pool, "i-alice", alice, 30002)
    hooks = {
        "admin": await webhooks_repo.create(pool, admin, "http://127.0.0.1:9/admin", True),
        "alice": await webhooks_repo.create(pool, alice, "http://127.0.0.1:9/alice", False),
        "bob": await webhooks_repo.create(pool, bob, "http://127.0.0.1:9/bob", True),
    }
    rule = await _rule(pool, "NotifyDown", for_seconds=0)
    evaluator = AlertEvaluator(pool, Notifier("http://dbvend.test", "http://127.0.0.1:9/am"))
    t = T0 + timedelta(hours=1)
    await evaluator.evaluate([rule], {rule.id: [down("i-alice")]}, t)
    await evaluator.evaluate([rule], {rule.id: []}, t + timedelta(seconds=1))
    rows = await pool.fetch("SELECT webhook_id, target, payload FROM deliveries ORDER BY id")
    by_target: dict[str, list[object]] = {}
    for row in rows:
        by_target.setdefault(row["target"], []).append(row["payload"])
    admin_payloads = by_target["http://127.0.0.1:9/admin"]
    assert [p["status"] for p in admin_payloads] == ["firing", "resolved"]  # type: ignore[index]
    assert [p["status"] for p in by_target["http://127.0.0.1:9/alice"]] == ["firing"]  # type: ignore[index]
    assert "http://127.0.0.1:9/bob" not in by_target  # not bob's instance
    firing = admin_payloads[0]
    assert firing["version"] == "4"
    assert firing["groupLabels"] == {"alertname": "NotifyDown"}
    assert firing["alerts"][0]["labels"]["instance_id"] == "i-alice"  # type: ignore[index]
    assert admin_payloads[1]["alerts"][0]["endsAt"] != "0001-01-01T00:00:00Z"  # type: ignore[index]
    pushed = by_target["http://127.0.0.1:9/am/api/v2/alerts"]
    assert pushed[0][0]["labels"]["alertname"] == "NotifyDown"  # type: ignore[index]
    assert len(hooks) == 3


async def test_disabled_rule_resolves_its_alerts(pool: asyncpg.Pool) -> None:
    owner = await _user(pool, "owner-d")
    await _instance(pool, "i-dis", owner, 30003)
    rule = await _rule(pool, "DisableMe", for_seconds=0)
    evaluator = AlertEvaluator(pool, Notifier("http://dbvend.test", None))
    await evaluator.evaluate([rule], {rule.id: [down("i-dis")]}, T0)
    await rules_repo.update(pool, "DisableMe", {"enabled": False})
    enabled = await rules_repo.list_all(pool, enabled_only=True)
    changes = await evaluator.retire(enabled, T0 + timedelta(seconds=1))
    assert [(c.alert.rule, c.status) for c in changes] == [("DisableMe", "resolved")]


async def test_a_repair_is_queued_once(pool: asyncpg.Pool) -> None:
    owner = await _user(pool, "owner-r")
    await _instance(pool, "i-rep", owner, 30004)
    assert await repairs.queue(pool, "op-rep1", "i-rep", "stopped", max_attempts=3)
    assert not await repairs.queue(pool, "op-rep2", "i-rep", "stopped", max_attempts=3)
    await pool.execute("UPDATE operations SET status = 'succeeded' WHERE id = 'op-rep1'")
    assert await repairs.queue(pool, "op-rep3", "i-rep", "stopped again", max_attempts=3)
    # The unique index holds even without the NOT EXISTS check.
    with pytest.raises(asyncpg.UniqueViolationError):
        await pool.execute(
            "INSERT INTO operations (id, kind, instance_id) VALUES ('op-rep4', 'repair', 'i-rep')"
        )


async def test_retention_prunes_old_rows_but_not_open_alerts(pool: asyncpg.Pool) -> None:
    old = datetime.now(UTC) - timedelta(days=9)
    await insert_many(pool, [Event(kind="t_old", message="old", source="gateway", at=old)])
    await insert_many(pool, [Event(kind="t_new", message="new", source="gateway")])
    await pool.execute(
        "INSERT INTO samples (instance_id, at, container_status, up) VALUES ('i-x', $1, 'running', true)", old
    )
    open_before = len(await alerts_repo.open_alerts(pool))
    removed = await retention.prune(pool, datetime.now(UTC) - timedelta(days=7))
    assert removed["samples"] >= 1
    # Events follow the records' policy (DBVEND_RETENTION_EVENTS_DAYS), not the monitoring one.
    never = datetime(2000, 1, 1, tzinfo=UTC)
    cutoffs = retention.Cutoffs(
        tokens=never, operations=never, deleted=never, events=datetime.now(UTC) - timedelta(days=7)
    )
    assert (await retention.prune_records(pool, cutoffs))["events"] >= 1
    kinds = {r["kind"] for r in await pool.fetch("SELECT kind FROM events")}
    assert "t_old" not in kinds
    assert "t_new" in kinds
    assert len(await alerts_repo.open_alerts(pool)) == open_before
