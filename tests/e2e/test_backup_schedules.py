"""Backup schedules end to end, two service processes on one database and one store, an
hour of interval_hours lasting DBVEND_BACKUP_HOUR_SECONDS=1 second:

- a schedule fires on time and prunes to `keep`; the two processes take one backup per
  due time, not two (consecutive scheduled backups are at least an interval apart);
- the instance's container removed behind dbvend's back: the next scheduled backup fails
  and BackupFailing reaches the owner's webhook, for that instance;
- DELETE ?final_backup=true keeps a restorable backup of the deleted instance: listed by
  GET /backups?instance_id=, restored into a clone whose data reads back exactly."""

from __future__ import annotations

import asyncio
import itertools
import secrets
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import docker
import pytest
import redis
from aiohttp import web

from tests.e2e.service_process import ServiceProcess, free_port
from tests.helpers import create_database, dbvend_containers, drop_database, wait_until, write_inventory
from tests.ports import port_range

HOUR = 1  # seconds per interval_hours
INTERVAL = 3  # interval_hours of the test's policy: a backup every 3 s
ENV = {
    "DBVEND_BACKUP_HOUR_SECONDS": str(HOUR),
    "DBVEND_MAX_ATTEMPTS": "1",
    # Monitoring on for BackupFailing, but no second collection round: reconciliation would
    # repair the removed container before the failing backup is seen.
    "DBVEND_COLLECT_INTERVAL": "3600",
    "DBVEND_ALERT_EVAL_INTERVAL": "1",
    "DBVEND_WEBHOOK_ALLOW": "127.0.0.0/8",
}


@pytest.fixture
async def two_services(tmp_path: Path) -> AsyncIterator[tuple[ServiceProcess, ServiceProcess, asyncpg.Pool]]:
    url = await create_database()
    inventory = write_inventory(tmp_path / "inventory", ports=port_range("e2e.backup_schedules"))
    state = tmp_path / "state"
    a = ServiceProcess(url, state, inventory, tmp_path / "a.log", **ENV)
    b = ServiceProcess(url, state, inventory, tmp_path / "b.log", **ENV)
    db = await asyncpg.create_pool(url, min_size=1, max_size=2)
    try:
        await a.start()
        await b.start()
        yield a, b, db
    finally:
        await a.stop()
        await b.stop()
        ids = [r["id"] for r in await db.fetch("SELECT id FROM instances")]
        await db.close()
        client = docker.from_env()
        for iid in ids:
            for c in dbvend_containers(client, iid):
                c.remove(force=True, v=True)
        client.close()
        await drop_database(url)


@pytest.fixture
async def hook() -> AsyncIterator[tuple[str, list[dict[str, Any]]]]:
    got: list[dict[str, Any]] = []

    async def keep(request: web.Request) -> web.Response:
        got.append(await request.json())
        return web.Response(status=200)

    app = web.Application()
    app.router.add_post("/hook", keep)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield f"http://127.0.0.1:{port}/hook", got
    finally:
        await runner.cleanup()


async def _as(svc: ServiceProcess, owner: str, method: str, path: str, **kw: Any) -> tuple[int, Any]:
    """A call with the owner's token (ServiceProcess.call speaks as the admin)."""
    headers = {"Authorization": f"Bearer {owner}"}
    async with aiohttp.ClientSession() as s, s.request(method, svc.base + path, headers=headers, **kw) as r:
        body = await r.json() if r.content_type == "application/json" else await r.text()
        return r.status, body


async def _user(svc: ServiceProcess) -> str:
    name, password = f"sched{secrets.token_hex(3)}", secrets.token_urlsafe(16)
    status, body = await svc.call("POST", "/users", json={"username": name, "password": password})
    assert status == 201, body
    status, body = await svc.call("POST", "/auth/login", json={"username": name, "password": password})
    assert status == 200, body
    return str(body["token"])


def _redis(c: dict[str, Any]) -> redis.Redis:
    return redis.Redis(host=c["host"], port=c["port"], username=c["username"], password=c["password"])


async def _scheduled(db: asyncpg.Pool, iid: str) -> list[asyncpg.Record]:
    return list(
        await db.fetch(
            "SELECT id, status, created_at, deleted_at FROM backups WHERE instance_id = $1 AND scheduled"
            " ORDER BY created_at",
            iid,
        )
    )


async def test_schedules_fire_prune_raise_backup_failing_and_keep_a_final_backup(
    two_services: tuple[ServiceProcess, ServiceProcess, asyncpg.Pool],
    hook: tuple[str, list[dict[str, Any]]],
) -> None:
    a, b, db = two_services
    url, received = hook
    owner = await _user(a)
    status, body = await _as(a, owner, "POST", "/webhooks", json={"url": url, "send_resolved": True})
    assert status == 201, body
    status, inst = await _as(
        a,
        owner,
        "POST",
        "/instances?wait=180",
        json={"engine": "redis", "settings": {"maxmemory": "32mb"}},
    )
    assert status == 201, inst
    iid = inst["id"]
    client = _redis(inst["connection"])
    client.set("k", "before")

    status, reply = await _as(
        b,
        owner,
        "PATCH",
        f"/instances/{iid}",
        json={"backup_policy": {"interval_hours": INTERVAL, "keep": 2}},
    )
    assert status == 200, reply
    assert reply["backup_policy"] == {"interval_hours": INTERVAL, "keep": 2}

    async def enough() -> bool:
        rows = await _scheduled(db, iid)
        return sum(r["status"] == "completed" for r in rows) >= 4

    assert await wait_until(enough, 180), await _scheduled(db, iid)
    rows = await _scheduled(db, iid)
    # One backup per due time across both processes: never two within one interval.
    gaps = [later["created_at"] - earlier["created_at"] for earlier, later in itertools.pairwise(rows)]
    assert all(g >= timedelta(seconds=INTERVAL * HOUR) - timedelta(milliseconds=50) for g in gaps), gaps

    # Pruned to keep: stop the schedule, let one more round run, count what is left.
    status, _ = await _as(a, owner, "PATCH", f"/instances/{iid}", json={"backup_policy": None})
    assert status == 200
    await asyncio.sleep(3)
    status, _ = await _as(
        a,
        owner,
        "PATCH",
        f"/instances/{iid}",
        json={"backup_policy": {"interval_hours": 720, "keep": 2}},
    )
    assert status == 200

    async def pruned() -> bool:
        rows = await _scheduled(db, iid)
        return sum(r["status"] == "completed" and r["deleted_at"] is None for r in rows) == 2

    assert await wait_until(pruned, 60), await _scheduled(db, iid)
    status, listed = await _as(
        a,
        owner,
        "GET",
        f"/instances/{iid}/backups",
    )
    assert status == 200, listed
    live_scheduled = [x for x in listed["items"] if x["status"] == "completed"]
    assert len(live_scheduled) == 2

    # The container removed behind dbvend's back: the next scheduled backup fails.
    docker_client = docker.from_env()
    for c in dbvend_containers(docker_client, iid):
        c.remove(force=True, v=True)
    docker_client.close()
    status, _ = await _as(
        b, owner, "PATCH", f"/instances/{iid}", json={"backup_policy": {"interval_hours": 1, "keep": 2}}
    )
    assert status == 200

    def firing() -> list[dict[str, Any]]:
        return [
            alert
            for payload in received
            for alert in payload.get("alerts", [])
            if alert["labels"].get("alertname") == "BackupFailing" and alert["status"] == "firing"
        ]

    async def alerted() -> bool:
        return bool(firing())

    assert await wait_until(alerted, 120), received
    alert = firing()[0]
    assert alert["labels"]["instance_id"] == iid
    assert "failed" in alert["annotations"]["summary"]


async def test_final_backup_outlives_the_instance_and_restores_into_a_clone(
    two_services: tuple[ServiceProcess, ServiceProcess, asyncpg.Pool],
) -> None:
    a, _, db = two_services
    owner = await _user(a)
    status, inst = await _as(
        a,
        owner,
        "POST",
        "/instances?wait=180",
        json={"engine": "redis", "settings": {"maxmemory": "32mb"}},
    )
    assert status == 201, inst
    iid = inst["id"]
    client = _redis(inst["connection"])
    client.mset({f"k{n}": f"v{n}" for n in range(100)})
    client.close()

    status, body = await _as(
        a,
        owner,
        "DELETE",
        f"/instances/{iid}?final_backup=true&wait=240",
    )
    assert status == 204, body
    status, listed = await _as(
        a,
        owner,
        "GET",
        f"/backups?instance_id={iid}",
    )
    assert status == 200, listed
    finals = [x for x in listed["items"] if x.get("final")]
    assert len(finals) == 1, listed
    assert finals[0]["status"] == "completed"
    assert await db.fetchval("SELECT final FROM backups WHERE id = $1", finals[0]["id"])

    status, clone = await _as(
        a,
        owner,
        "POST",
        "/instances?wait=240",
        json={"engine": "redis", "restore_from": finals[0]["id"]},
    )
    assert status == 201, clone
    restored = _redis(clone["connection"])
    try:
        keys = [f"k{n}" for n in range(100)]
        assert restored.mget(keys) == [f"v{n}".encode() for n in range(100)]
        assert restored.dbsize() == 100
    finally:
        restored.close()
