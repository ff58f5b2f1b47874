"""Two service processes (API + worker each) against one PostgreSQL database, one inventory
and one state dir, as two systemd units on one machine would run: a burst of creates sent
to both APIs is executed by both workers, no operation runs twice, and exactly one process
leads the leader-elected jobs; when the leader is killed with -9 the other takes over
within the lease time."""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import asyncpg
import docker
import pytest

from tests.e2e.service_process import ServiceProcess
from tests.e2e.test_crash_recovery import containers_under
from tests.helpers import create_database, drop_database, write_inventory
from tests.ports import port_range

pytestmark = pytest.mark.slow

CREATES = 6
# The monitoring lease: max(30 s, 3 collection intervals, 3 rule intervals) (monitor.py).
MONITORING_LEASE_SECONDS = 30
ENV = {
    # Creates go to the workers (a warm pool would answer them in the API process).
    "DBVEND_POOL": "off",
    # One batch of at most two operations per worker at a time: six creates cannot all go
    # to the first worker that wakes, so the spread is a property of the claims, not luck.
    "DBVEND_WORKER_SLOTS": "1",
    "DBVEND_BATCH_SIZE": "2",
    "DBVEND_COLLECT_INTERVAL": "5",
    "DBVEND_HEALTH_INTERVAL": "2",
}


@pytest.fixture
async def shared_database() -> AsyncIterator[str]:
    url = await create_database(migrated=False)  # both processes migrate it at once
    yield url
    await drop_database(url)


@pytest.fixture
def shared_inventory(tmp_path: Path, docker_client: docker.DockerClient) -> Iterator[Path]:
    # Ports of its own (tests/deploy: 27500-27999), so no other test's service collides.
    yield write_inventory(tmp_path / "inventory", ports=port_range("deploy.two_processes"))
    for container in containers_under(docker_client, tmp_path).values():
        container.remove(force=True, v=True)  # type: ignore[attr-defined]


def _pid_of(worker_id: str) -> int:
    """Worker ids are scope:pid:token (service/config/environment.py)."""
    return int(worker_id.split(":")[1])


async def _leader(db: asyncpg.Pool, lease: str) -> tuple[str, bool] | None:
    row = await db.fetchrow(
        "SELECT owner, expires_at > now() AS live FROM leader_leases WHERE name = $1", lease
    )
    return (row["owner"], row["live"]) if row else None


async def _leader_gauge(svc: ServiceProcess) -> float | None:
    url = svc.base.removesuffix("/api/v1") + "/metrics"
    with contextlib.suppress(aiohttp.ClientError):
        async with aiohttp.ClientSession() as session, session.get(url) as response:
            text = await response.text()
            found = re.search(r"^dbvend_monitoring_leader (\S+)$", text, re.MULTILINE)
            return float(found.group(1)) if found else None
    return None


async def _wait_for_leader(db: asyncpg.Pool, lease: str, pids: set[int], seconds: float) -> int:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while loop.time() < deadline:
        held = await _leader(db, lease)
        if held is not None and held[1] and _pid_of(held[0]) in pids:
            return _pid_of(held[0])
        await asyncio.sleep(0.5)
    raise AssertionError(f"no live {lease} leader among {pids} after {seconds} s: {await _leader(db, lease)}")


async def test_two_processes_share_the_work_and_one_leads(
    shared_database: str, shared_inventory: Path, tmp_path: Path, docker_client: docker.DockerClient
) -> None:
    state = tmp_path / "state"
    a = ServiceProcess(shared_database, state, shared_inventory, tmp_path / "a.log", **ENV)
    b = ServiceProcess(shared_database, state, shared_inventory, tmp_path / "b.log", **ENV)
    db = await asyncpg.create_pool(shared_database, min_size=1, max_size=2)
    try:
        # Both start at once on an empty database: migrations and the first admin are
        # serialised (advisory locks), neither start fails.
        await asyncio.gather(a.start(), b.start())
        assert a.proc is not None
        assert b.proc is not None
        pids = {a.proc.pid, b.proc.pid}
        assert await db.fetchval("SELECT count(*) FROM users") == 1

        replies = await asyncio.gather(
            *(
                (a if i % 2 == 0 else b).call(
                    "POST", "/instances", json={"engine": "redis", "settings": {"maxmemory": "16mb"}}
                )
                for i in range(CREATES)
            )
        )
        assert [status for status, _ in replies] == [202] * CREATES, replies
        ids = sorted(body["id"] for _, body in replies)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 240
        while loop.time() < deadline:
            open_ops = await db.fetchval(
                "SELECT count(*) FROM operations WHERE instance_id = ANY($1)"
                " AND status IN ('pending', 'running')",
                ids,
            )
            if open_ops == 0:
                break
            await asyncio.sleep(0.5)
        else:
            raise AssertionError("creates still open after 240 s")

        # Executed by both workers, each create exactly once.
        ops = await db.fetch(
            "SELECT instance_id, kind, status, attempts, worker, error FROM operations"
            " WHERE instance_id = ANY($1) ORDER BY instance_id",
            ids,
        )
        assert [(o["instance_id"], o["kind"]) for o in ops] == [(i, "create") for i in ids]
        assert [(o["status"], o["attempts"]) for o in ops] == [("succeeded", 1)] * CREATES, [
            dict(o) for o in ops
        ]
        workers = {_pid_of(o["worker"]) for o in ops}
        assert workers == pids, f"creates ran on {workers}, processes are {pids}"

        # One running instance per create, one container each, one port claim each, no port twice.
        rows = await db.fetch("SELECT id, status, port FROM instances WHERE id = ANY($1) ORDER BY id", ids)
        assert [(r["id"], r["status"]) for r in rows] == [(i, "running") for i in ids]
        containers = containers_under(docker_client, tmp_path)
        assert sorted(containers) == ids
        claims = await db.fetch("SELECT instance_id, port FROM port_claims WHERE instance_id = ANY($1)", ids)
        assert sorted(c["instance_id"] for c in claims) == ids
        assert sorted(c["port"] for c in claims) == sorted(r["port"] for r in rows)
        assert len({c["port"] for c in claims}) == CREATES
        # No runner directory outlived its run (each holds a run's private data).
        runs = state / "runs"
        busy = {d.name for d in runs.iterdir()} if runs.exists() else set()
        assert all(name.split("-", 1)[0] in {str(p) for p in pids} for name in busy), busy

        # Exactly one leader, and the processes agree on which.
        leader_pid = await _wait_for_leader(db, "monitoring", pids, 30)
        gauges = {a.proc.pid: await _leader_gauge(a), b.proc.pid: await _leader_gauge(b)}
        assert gauges == {p: (1.0 if p == leader_pid else 0.0) for p in pids}, gauges
        health_pid = await _wait_for_leader(db, "host-health", pids, 30)
        assert health_pid in pids

        # kill -9 the monitoring leader: the other takes over once the lease runs out.
        leader, survivor = (a, b) if a.proc.pid == leader_pid else (b, a)
        assert survivor.proc is not None
        leader.kill9()
        killed_at = loop.time()
        assert await _wait_for_leader(db, "monitoring", {survivor.proc.pid}, MONITORING_LEASE_SECONDS + 15)
        assert loop.time() - killed_at <= MONITORING_LEASE_SECONDS + 15
        assert await _wait_for_leader(db, "host-health", {survivor.proc.pid}, 15)
        for _ in range(40):  # the gauge follows at the survivor's next lease check
            if await _leader_gauge(survivor) == 1.0:
                break
            await asyncio.sleep(0.5)
        assert await _leader_gauge(survivor) == 1.0

        # The survivor deletes everything; nothing is left behind.
        deletes = await asyncio.gather(*(survivor.call("DELETE", f"/instances/{i}?wait=120") for i in ids))
        assert [status for status, _ in deletes] == [204] * CREATES, deletes
        assert containers_under(docker_client, tmp_path) == {}
        assert await db.fetchval("SELECT count(*) FROM port_claims WHERE instance_id = ANY($1)", ids) == 0
    finally:
        await a.stop()
        await b.stop()
        await db.close()
