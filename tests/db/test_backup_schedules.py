"""The schedule's questions to the store, on a real PostgreSQL: the newest scheduled backup
per instance (due times survive restarts: they are read, not remembered), which completed
scheduled backups may be pruned (never manual or final ones), and BackupFailing: raised for
an instance whose newest finished scheduled backup failed, clear once a later one completes
(a pending one after the failure does not clear it), and only for the instance concerned."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

import asyncpg

from service.db import backup_schedules
from service.db.rules import Rule
from service.monitoring.checks import check_service
from service.monitoring.conditions import CONDITIONS
from tests.db import records

T0 = datetime(2025, 3, 1, tzinfo=UTC)


async def _backup(
    db: asyncpg.Pool,
    iid: str,
    owner: int,
    status: str,
    minutes: int,
    *,
    scheduled: bool = True,
    final: bool = False,
    error: str | None = None,
) -> str:
    bid = f"b-{secrets.token_hex(6)}"
    at = T0 + timedelta(minutes=minutes)
    await db.execute(
        "INSERT INTO backups (id, instance_id, owner_id, engine, status, format, scheduled, final, error,"
        " size_bytes, sha256, path, created_at, finished_at)"
        " VALUES ($1, $2, $3, 'redis', $4, 'rdb', $5, $6, $7, 1, repeat('0', 64), $1 || '.rdb.enc',"
        " $8::timestamptz,"
        " CASE WHEN $4::text IN ('completed', 'failed') THEN $8::timestamptz END)",
        bid,
        iid,
        owner,
        status,
        scheduled,
        final,
        error,
        at,
    )
    return bid


async def _rule(db: asyncpg.Pool) -> Rule:
    from service.db import rules

    found = [r for r in await rules.list_all(db, enabled_only=False) if r.name == "BackupFailing"]
    assert found, "migration 0015 seeds the BackupFailing rule"
    return found[0]


async def test_backup_failing_raises_for_the_instance_and_clears_on_a_later_success(
    scratch_db: asyncpg.Pool,
) -> None:
    db = scratch_db  # hand-written rows: a database no service of the session sees
    owner, host = await records.user(db), await records.host(db)
    sick, well = await records.instance(db, owner, host), await records.instance(db, owner, host)
    rule = await _rule(db)
    assert rule.condition == "backup_failing"
    assert CONDITIONS[rule.condition].scope == "service"
    assert rule.builtin

    await _backup(db, well, owner, "completed", 0)
    await _backup(db, sick, owner, "completed", 0)
    await _backup(db, sick, owner, "failed", 10, error="container dbvend-x not found")
    await _backup(db, sick, owner, "pending", 20)  # not finished: no verdict yet
    await _backup(db, well, owner, "failed", 10, scheduled=False)  # a manual one is not the schedule's
    found = [f for f in await check_service(rule, db) if f.instance_id in (sick, well)]
    assert [f.instance_id for f in found] == [sick]
    assert found[0].labels == {"instance_id": sick}
    assert "container dbvend-x not found" in found[0].summary

    await _backup(db, sick, owner, "completed", 30)
    assert not [f for f in await check_service(rule, db) if f.instance_id == sick]

    # A deleted instance raises nothing any more (its alert resolves).
    gone = await records.instance(db, owner, host)
    await _backup(db, gone, owner, "failed", 0)
    assert [f for f in await check_service(rule, db) if f.instance_id == gone]
    await db.execute("UPDATE instances SET status = 'deleted', deleted_at = now() WHERE id = $1", gone)
    assert not [f for f in await check_service(rule, db) if f.instance_id == gone]


async def test_due_times_and_prune_candidates_come_from_the_store(scratch_db: asyncpg.Pool) -> None:
    db = scratch_db  # hand-written rows: a database no service of the session sees
    owner, host = await records.user(db), await records.host(db)
    iid = await records.instance(db, owner, host)
    await backup_schedules.set_policy(db, iid, {"interval_hours": 2, "keep": 2})
    mine = {s.instance_id: s for s in await backup_schedules.with_policy(db)}
    assert mine[iid].last_scheduled is None
    assert mine[iid].policy == {"interval_hours": 2, "keep": 2}
    assert mine[iid].owner.id == owner

    kept = [await _backup(db, iid, owner, "completed", m) for m in (0, 10, 20)]
    await _backup(db, iid, owner, "completed", 25, scheduled=False)
    await _backup(db, iid, owner, "completed", 26, scheduled=False, final=True)
    await _backup(db, iid, owner, "failed", 30)
    pruned = await _backup(db, iid, owner, "completed", 5)
    await db.execute("UPDATE backups SET deleted_at = now() WHERE id = $1", pruned)
    await _backup(db, iid, owner, "pending", 40)

    mine = {s.instance_id: s for s in await backup_schedules.with_policy(db)}
    assert mine[iid].last_scheduled == T0 + timedelta(minutes=40)  # any status counts as taken
    assert [b for b, _ in await backup_schedules.completed_scheduled(db, iid)] == kept[::-1]

    await backup_schedules.set_policy(db, iid, None)
    assert iid not in {s.instance_id for s in await backup_schedules.with_policy(db)}
