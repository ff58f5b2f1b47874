"""kill -9 of the service in the middle of the warm pool's work: a claim blocked after its
re-key (the test holds the owner's row lock), and a refill whose provision run is going.
After a restart every slot is ready or claimed by exactly one instance, every container has
a row, and every port claim has one holder."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
import docker

from tests.e2e.service_process import ServiceProcess
from tests.helpers import wait_until
from tests.pool.conftest import POOL_ENV, PoolRig, containers_under, start_rig


async def no_leaks(rig: PoolRig, docker_client: docker.DockerClient) -> None:
    """Containers == live slots + live instances; each holds exactly one port claim."""
    slots = {r["id"] for r in await rig.db.fetch("SELECT id FROM pool_slots WHERE status <> 'claimed'")}
    live = {r["id"] for r in await rig.db.fetch("SELECT id FROM instances WHERE deleted_at IS NULL")}
    assert not slots & live
    assert set(containers_under(docker_client, rig.root)) == slots | live
    claims = await rig.db.fetch("SELECT instance_id, slot_id FROM port_claims WHERE blocked_until IS NULL")
    assert sorted(c["slot_id"] or c["instance_id"] for c in claims) == sorted(slots | live)


async def restart(rig: PoolRig) -> ServiceProcess:
    svc = ServiceProcess(
        rig.svc.env["DATABASE_URL"], rig.state, rig.inventory, rig.root / "service-2.log", **POOL_ENV
    )
    rig.svc = svc  # stopped by the fixture even when it does not come up
    await svc.start()
    return svc


async def test_kill_during_a_claim_leaves_the_slot_ready(
    rig: PoolRig, docker_client: docker.DockerClient
) -> None:
    ready = await rig.wait_ready(2)
    token = await rig.user()
    user_id = await rig.db.fetchval("SELECT max(id) FROM users")  # the one just made
    async with rig.db.acquire() as lock:
        tx = lock.transaction()
        await tx.start()
        await lock.execute("SELECT 1 FROM users WHERE id = $1 FOR UPDATE", user_id)

        async def create() -> None:
            headers = {"Authorization": f"Bearer {token}"}
            async with aiohttp.ClientSession() as s:
                await s.post(rig.svc.base + "/instances", json={"engine": "redis"}, headers=headers)

        request = asyncio.create_task(create())

        async def claiming() -> bool:
            return bool(await rig.db.fetchval("SELECT count(*) FROM pool_slots WHERE status = 'claiming'"))

        assert await wait_until(claiming, 30, 0.05)
        taken = await rig.db.fetchval("SELECT id FROM pool_slots WHERE status = 'claiming'")

        # The re-key and readiness check take milliseconds; tx2 then waits for our lock.
        async def blocked_on_our_lock() -> bool:
            return bool(
                await rig.db.fetchval(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                    " AND $1 = ANY(pg_blocking_pids(pid))",
                    lock.get_server_pid(),
                )
            )

        assert await wait_until(blocked_on_our_lock, 30, 0.05)
        rig.svc.kill9()
        request.cancel()
        await tx.rollback()
    await restart(rig)

    # The claim's lease runs out and recovery makes the slot ready again (the keeper had
    # refilled meanwhile: the newer slot goes as surplus). No instance was made.
    async def settled() -> bool:
        rows = await rig.db.fetch("SELECT id, status FROM pool_slots")
        return sorted(r["status"] for r in rows) == ["ready", "ready"]

    assert await wait_until(settled, 240)
    assert taken in {r["id"] for r in await rig.slots()}
    assert taken in {r["id"] for r in ready}
    assert await rig.db.fetchval("SELECT count(*) FROM instances WHERE owner_id = $1", user_id) == 0
    await no_leaks(rig, docker_client)
    # And the slot serves the next claim.
    status, body = await rig.svc.call("POST", "/instances", json={"engine": "redis"})
    assert status == 201, body


async def test_kill_during_a_refill_finishes_or_removes_half_made_slots(
    pool_database: str, pool_root: Path, docker_client: docker.DockerClient
) -> None:
    rig, db = await start_rig(pool_database, pool_root, {"redis": 3})
    try:

        async def warming() -> bool:
            return bool(await rig.db.fetchval("SELECT count(*) FROM pool_slots WHERE status = 'warming'"))

        assert await wait_until(warming, 60, 0.05)
        await asyncio.sleep(0.5)  # the provision run has started
        rig.svc.kill9()
        await restart(rig)
        await rig.wait_ready(3, seconds=240)

        async def settled() -> bool:
            n = await rig.db.fetchval("SELECT count(*) FROM pool_slots WHERE status <> 'ready'")
            return n == 0

        assert await wait_until(settled, 120)
        await no_leaks(rig, docker_client)
    finally:
        await rig.svc.stop()
        await db.close()
