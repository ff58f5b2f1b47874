"""Lease fencing with real service processes on one PostgreSQL and the real Docker engine:
service A claims a create and is frozen (SIGSTOP, with the Ansible it runs) past its lease;
service B claims the create again and finishes it; A is resumed. Exactly one outcome: B's.
A's late result is dropped: no operation or instance row rewritten, no container removed
or replaced, no port released or moved."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import asyncpg
import docker
import redis

from tests.e2e.service_process import ServiceProcess
from tests.e2e.test_crash_recovery import containers_under, own_database, own_inventory

__all__ = ["own_database", "own_inventory"]  # fixtures

ENV = {"DBVEND_LEASE_SECONDS": "10", "DBVEND_COLLECT_INTERVAL": "0"}


async def _until(what: str, seconds: float, check: object) -> None:
    for _ in range(int(seconds * 4)):
        if await check():  # type: ignore[operator]
            return
        await asyncio.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}")


async def test_a_worker_paused_past_its_lease_does_not_act_on_its_result(
    own_database: str, own_inventory: Path, tmp_path: Path, docker_client: docker.DockerClient
) -> None:
    state = tmp_path / "state"
    a = ServiceProcess(own_database, state, own_inventory, tmp_path / "a.log", **ENV)
    b = ServiceProcess(own_database, state, own_inventory, tmp_path / "b.log", **ENV)
    db = await asyncpg.create_pool(own_database, min_size=1, max_size=2)
    paused = False
    await a.start()
    try:
        status, body = await a.call("POST", "/instances", json={"engine": "redis"})
        assert status == 202, body
        iid = body["id"]
        op_id = await db.fetchval("SELECT id FROM operations WHERE instance_id = $1", iid)
        assert a.proc is not None
        a_marker = f":{a.proc.pid}:"

        async def a_holds_it() -> bool:
            owner = await db.fetchval(
                "SELECT lease_owner FROM operations WHERE id = $1 AND status = 'running'", op_id
            )
            return owner is not None and a_marker in owner

        await _until("A to claim the create", 60, a_holds_it)
        a.pause()
        paused = True

        await b.start()

        async def finished() -> bool:
            # An end, not just "not running": B may retry an attempt (the operation is
            # pending again for a moment), which is not yet the result this test compares.
            status = await db.fetchval("SELECT status FROM operations WHERE id = $1", op_id)
            return status in ("succeeded", "failed")

        await _until("B to claim and finish the create", 240, finished)
        op_before = dict(await db.fetchrow("SELECT * FROM operations WHERE id = $1", op_id))
        inst_before = dict(await db.fetchrow("SELECT * FROM instances WHERE id = $1", iid))
        claim_before = [
            dict(r) for r in await db.fetch("SELECT * FROM port_claims WHERE instance_id = $1", iid)
        ]
        assert op_before["status"] == "succeeded", op_before
        # A's claim, then B's (B claims once more if its own lease lapsed on a loaded box).
        assert op_before["lease_generation"] >= 2
        assert a_marker not in (op_before["lease_owner"] or "")
        assert inst_before["status"] == "running"
        made_by_b = containers_under(docker_client, tmp_path)
        assert list(made_by_b) == [iid]
        container_id = made_by_b[iid].id  # type: ignore[attr-defined]
        assert json.loads(inst_before["facts"])["container_id"] == container_id

        a.resume()
        paused = False
        a_log = tmp_path / "a.log"

        async def a_dropped_it() -> bool:
            text = a_log.read_text()
            return f"operation {op_id} (create of {iid}): lease lost" in text

        await _until("A to drop its late result", 240, a_dropped_it)
        await asyncio.sleep(5)  # whatever A would do next, let it try

        assert dict(await db.fetchrow("SELECT * FROM operations WHERE id = $1", op_id)) == op_before
        assert dict(await db.fetchrow("SELECT * FROM instances WHERE id = $1", iid)) == inst_before
        assert [
            dict(r) for r in await db.fetch("SELECT * FROM port_claims WHERE instance_id = $1", iid)
        ] == claim_before
        assert await db.fetchval("SELECT count(*) FROM operations WHERE instance_id = $1", iid) == 1
        now = containers_under(docker_client, tmp_path)
        assert list(now) == [iid]
        assert now[iid].id == container_id  # type: ignore[attr-defined]
        now[iid].reload()  # type: ignore[attr-defined]
        assert now[iid].status == "running"  # type: ignore[attr-defined]
        status, inst = await b.call("GET", f"/instances/{iid}")
        assert status == 200
        assert inst["status"] == "running"
        conn = inst["connection"]
        client = redis.Redis(
            host=conn["host"], port=conn["port"], username=conn["username"], password=conn["password"]
        )
        assert client.set("fenced", "yes")
        assert client.get("fenced") == b"yes"
        print(
            "A's log after resuming:\n"
            + "\n".join(line for line in a_log.read_text().splitlines() if op_id in line or "lease" in line)
        )
    finally:
        if paused:
            a.resume()
        await a.stop()
        await b.stop()
        await db.close()
