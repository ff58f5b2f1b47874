"""The pool's rows against the real PostgreSQL (no Docker): slots hold memory and ports
like instances, a claim is fenced by its lease, recovery and surplus pick the right slots."""

from __future__ import annotations

import secrets

import asyncpg
import pytest

from service.db import hosts, pool_slots, ports
from service.errors import NoCapacity
from service.operations.placing import place
from tests.db import records


async def slot(db: asyncpg.Pool, host: str, port: int, *, mb: int = 192, owner: str = "keeper") -> str:
    slot_id = "i-" + secrets.token_hex(4)
    await pool_slots.insert_warming(
        db,
        id=slot_id,
        host=host,
        engine="redis",
        memory_mb=mb,
        port=port,
        secrets=b"x",
        settings={},
        owner=owner,
        lease_seconds=60,
    )
    return slot_id


async def test_slots_commit_memory_and_hold_their_ports(scratch_db: asyncpg.Pool) -> None:
    host = await records.host(scratch_db)
    await scratch_db.execute(
        "UPDATE hosts SET capacity_mb = 400, port_min = 30000, port_max = 30010 WHERE name = $1", host
    )
    a = await slot(scratch_db, host, 30000)
    await slot(scratch_db, host, 30001)
    load = await hosts.load_of(scratch_db, host)
    assert load is not None
    assert load.committed_mb == 384
    assert {30000, 30001} <= await ports.taken(scratch_db, host)
    # Other tests' hosts in the shared scratch database are not this question's.
    others = frozenset(
        await scratch_db.fetchval("SELECT array_agg(name) FROM hosts WHERE name <> $1", host) or []
    )
    async with scratch_db.acquire() as conn:
        with pytest.raises(NoCapacity):
            await place(conn, 64, exclude=others)  # 384 + 64 > 400
    # Removing a broken slot frees both; a ready one is not removed.
    await pool_slots.remove(scratch_db, [a])
    assert await pool_slots.get(scratch_db, a) is not None
    await pool_slots.break_slot(scratch_db, a, "test")
    await pool_slots.remove(scratch_db, [a])
    assert await pool_slots.get(scratch_db, a) is None
    assert 30000 not in await ports.taken(scratch_db, host)
    load = await hosts.load_of(scratch_db, host)
    assert load is not None
    assert load.committed_mb == 192


async def test_a_claim_is_fenced_and_recovery_returns_dead_claims(scratch_db: asyncpg.Pool) -> None:
    host = await records.host(scratch_db)
    s = await slot(scratch_db, host, 31000)
    assert await pool_slots.warmed(scratch_db, s, "keeper", {"container_id": "c"})
    taken = await pool_slots.take(scratch_db, "redis", [192], [host], "proc-1", 60)
    assert taken is not None
    assert taken.id == s
    assert await pool_slots.take(scratch_db, "redis", [192], [host], "proc-2", 60) is None
    # proc-1 died: its lease runs out, recovery makes the slot ready, proc-1 can no longer record it.
    await scratch_db.execute(
        "UPDATE pool_slots SET lease_expires_at = now() - interval '1 s' WHERE id = $1", s
    )
    assert await pool_slots.recover(scratch_db) == (1, 0)
    async with scratch_db.acquire() as conn, conn.transaction():
        assert not await pool_slots.claimed(conn, s, "proc-1")
    row = await pool_slots.get(scratch_db, s)
    assert row is not None
    assert row.status == "ready"


async def test_surplus_keeps_the_oldest_ready_slots(scratch_db: asyncpg.Pool) -> None:
    host = await records.host(scratch_db)
    made = []
    for port in (32000, 32001, 32002):
        s = await slot(scratch_db, host, port)
        assert await pool_slots.warmed(scratch_db, s, "keeper", {})
        made.append(s)

    # (Other tests' slots, on hosts not named here, are surplus too: only ours are looked at.)
    async def extra(wanted: dict[tuple[str, str, int], int], known: list[str]) -> list[str]:
        return [s for s in await pool_slots.surplus(scratch_db, wanted, known) if s in made]

    assert await extra({(host, "redis", 192): 2}, [host]) == [made[2]]
    assert set(await extra({}, [host])) == set(made)
    assert set(await extra({(host, "redis", 192): 5}, [])) == set(made)


async def test_pool_empty_fires_for_a_configured_pool_without_ready_slots(scratch_db: asyncpg.Pool) -> None:
    from service.inventory import DockerHost
    from service.monitoring.conditions import CONDITIONS

    name = f"h-{secrets.token_hex(4)}"
    host = DockerHost(name, "127.0.0.1", 33000, 33010, 4096, "/x", pool={"redis": {192: 1}})
    async with scratch_db.acquire() as conn:
        await hosts.sync(conn, [host])
    assert (name, "redis", 192, 1) in await pool_slots.empty_pools(scratch_db)
    assert await scratch_db.fetchval("SELECT condition FROM rules WHERE name = 'PoolEmpty'") == "pool_empty"
    assert "pool_empty" in CONDITIONS
    s = await slot(scratch_db, name, 33000)
    assert (name, "redis", 192, 1) in await pool_slots.empty_pools(scratch_db)  # warming is not ready
    assert await pool_slots.warmed(scratch_db, s, "keeper", {})
    assert all(row[0] != name for row in await pool_slots.empty_pools(scratch_db))
