"""Monitoring real instances through the API (3 s collection rounds).

- A MariaDB whose server process is killed with SIGKILL from the host, again each time
  Docker's restart policy brings it back (a crash loop; `docker kill`/`stop` would count
  as a manual stop and switch the policy off): InstanceDown fires within 60 s and the
  owner's webhook gets the firing payload; once the kills stop the policy brings it back,
  the alert resolves and the resolved payload arrives. A single kill is not enough for
  InstanceDown (for: 30 s): the policy restarts the container within a second or two;
  InstanceRestarted is the alert for that, and it fires too.
- A Redis stopped behind dbvend's back (`docker stop`) is started again by
  reconciliation within two collection rounds, with events saying so, one repair only.
- A Redis filled past 90 % of its maxmemory fires RedisMemoryHigh; acknowledging shows
  who; emptying it resolves the alert.
- A container removed behind dbvend's back is an event; health and metrics are the
  owner's only.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from typing import Any

import docker
import redis

from service.app import RUNTIME
from tests.helpers import dbvend_containers, wait_until
from tests.monitoring.conftest import COLLECT_INTERVAL, Monitored, Receiver

MIB = 1024 * 1024


async def create(m: Monitored, token: str, engine: str, **settings: Any) -> dict[str, Any]:
    status, inst = await m.api.call(
        "POST", "/instances?wait=240", token, json={"engine": engine, "settings": settings or None}
    )
    assert status == 201, inst
    return dict(inst)


async def delete(m: Monitored, token: str, instance_id: str) -> None:
    status, body = await m.api.call("DELETE", f"/instances/{instance_id}?wait=120", token)
    assert status in (202, 204), body


async def health(m: Monitored, token: str, instance_id: str) -> dict[str, Any]:
    status, inst = await m.api.call("GET", f"/instances/{instance_id}", token)
    assert status == 200, inst
    return dict(inst["health"])


async def wait_health(m: Monitored, token: str, instance_id: str, state: str, seconds: float = 30) -> None:
    async def reached() -> bool:
        return (await health(m, token, instance_id))["state"] == state

    assert await wait_until(reached, seconds), await health(m, token, instance_id)


async def alert_of(
    m: Monitored, token: str, instance_id: str, rule: str, status: str | None = None
) -> dict[str, Any] | None:
    filters = {"instance_id": instance_id, "rule": rule}
    if status:
        filters["status"] = status
    found = await m.alerts(token, **filters)
    return found[0] if found else None


def payloads(receiver: Receiver, name: str, rule: str, status: str, instance_id: str) -> list[dict[str, Any]]:
    return [
        p
        for p in receiver.received(name)
        if p["groupLabels"]["alertname"] == rule
        and p["status"] == status
        and any(a["labels"].get("instance_id") == instance_id for a in p["alerts"])
    ]


async def test_crash_loop_fires_instance_down_and_the_restart_resolves_it(
    monitored: Monitored, receiver: Receiver, docker_client: docker.DockerClient
) -> None:
    owner, token = await monitored.user("crash")
    status, hook = await monitored.api.call(
        "POST", "/webhooks", token, json={"url": receiver.url("crash"), "send_resolved": True}
    )
    assert status == 201, hook
    inst = await create(monitored, token, "mysql")
    iid = inst["id"]
    await wait_health(monitored, token, iid, "up")
    engine = (await health(monitored, token, iid))["engine"]
    assert engine["max_connections"] == 100
    assert engine["threads_connected"] >= 1
    assert engine["uptime_seconds"] >= 0
    assert "slow_queries" in engine
    [container] = dbvend_containers(docker_client, iid)

    killed: set[int] = set()
    stop = asyncio.Event()

    async def crash_loop() -> None:
        while not stop.is_set():
            state = (await asyncio.to_thread(docker_client.api.inspect_container, container.id))["State"]
            pid = int(state.get("Pid") or 0)
            if state.get("Running") and pid and pid not in killed:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)  # from the host: a crash, not a manual stop
                killed.add(pid)
            await asyncio.sleep(0.05)

    started = time.monotonic()
    task = asyncio.create_task(crash_loop())
    try:

        async def firing() -> bool:
            return await alert_of(monitored, token, iid, "InstanceDown", "firing") is not None

        assert await wait_until(firing, 60, interval=1), await monitored.alerts(token, instance_id=iid)
        fired_after = time.monotonic() - started
    finally:
        stop.set()
        await task
    assert fired_after <= 60
    down = await alert_of(monitored, token, iid, "InstanceDown", "firing")
    assert down is not None
    assert down["labels"]["instance_id"] == iid
    assert down["severity"] == "critical"
    assert await alert_of(monitored, token, iid, "InstanceRestarted") is not None
    assert await wait_until(lambda: _has(payloads(receiver, "crash", "InstanceDown", "firing", iid)), 15)
    [fired] = payloads(receiver, "crash", "InstanceDown", "firing", iid)
    assert fired["version"] == "4"
    assert fired["alerts"][0]["status"] == "firing"
    assert fired["alerts"][0]["labels"]["owner"] == owner

    # No more kills: the restart policy (not dbvend, not the test) brings the server back.
    async def resolved() -> bool:
        found = await alert_of(monitored, token, iid, "InstanceDown")
        return found is not None and found["status"] == "resolved"

    assert await wait_until(resolved, 150, interval=1), await monitored.alerts(token, instance_id=iid)
    assert await wait_until(lambda: _has(payloads(receiver, "crash", "InstanceDown", "resolved", iid)), 15)
    [done] = payloads(receiver, "crash", "InstanceDown", "resolved", iid)
    assert done["alerts"][0]["endsAt"] != "0001-01-01T00:00:00Z"
    info = await asyncio.to_thread(docker_client.api.inspect_container, container.id)
    assert info["State"]["Running"]
    assert info["RestartCount"] >= len(killed) >= 1
    assert [op for op in await _repairs(monitored, iid)] == []  # the policy did it, not a repair
    print(f"InstanceDown fired {fired_after:.1f} s after the first kill ({len(killed)} kills)")
    await delete(monitored, token, iid)


async def _has(found: list[dict[str, Any]]) -> bool:
    return bool(found)


async def _repairs(m: Monitored, instance_id: str) -> list[str]:
    rows = await m.db.fetch(
        "SELECT id FROM operations WHERE instance_id = $1 AND kind = 'repair'", instance_id
    )
    return [r["id"] for r in rows]


async def test_a_container_stopped_behind_dbvends_back_is_started_again(
    monitored: Monitored, docker_client: docker.DockerClient
) -> None:
    _, token = await monitored.user("stopped")
    inst = await create(monitored, token, "redis", maxmemory="8mb")
    iid = inst["id"]
    await wait_health(monitored, token, iid, "up")
    monitor = monitored.app[RUNTIME].monitoring
    assert monitor is not None
    [container] = dbvend_containers(docker_client, iid)
    await asyncio.to_thread(container.stop, timeout=5)
    rounds_at_stop = monitor.collector.rounds
    stopped_at = time.monotonic()

    async def queued() -> bool:
        return bool(await monitored.events(kind="repair_queued", instance_id=iid))

    assert await wait_until(queued, 6 * COLLECT_INTERVAL + 30, interval=0.2)
    assert monitor.collector.rounds - rounds_at_stop <= 2  # seen by the first or second round
    [event] = await monitored.events(kind="repair_queued", instance_id=iid)
    assert "exited" in event["message"]
    assert "starting it again" in event["message"]

    async def running() -> bool:
        container.reload()
        return bool(container.status == "running")

    assert await wait_until(running, 90)
    print(f"started again {time.monotonic() - stopped_at:.1f} s after docker stop")

    async def repaired() -> bool:
        return bool(await monitored.events(kind="instance_repaired", instance_id=iid))

    assert await wait_until(repaired, 30)
    await wait_health(monitored, token, iid, "up")
    assert len(await _repairs(monitored, iid)) == 1  # never queued twice
    status, again = await monitored.api.call("GET", f"/instances/{iid}", token)
    assert status == 200
    assert again["status"] == "running"  # a repair does not change the status
    # The user sees the events of its own instance.
    _status, mine = await monitored.api.call("GET", f"/events?instance_id={iid}", token)
    assert {"repair_queued", "instance_repaired"} <= {e["kind"] for e in mine["items"]}
    # A stop and a start by hand are not restarts (the start resets Docker's count).
    await monitored.rounds_pass(2)
    assert await alert_of(monitored, token, iid, "InstanceRestarted") is None
    await delete(monitored, token, iid)


async def test_redis_memory_high_ack_and_resolve(
    monitored: Monitored, docker_client: docker.DockerClient
) -> None:
    admin = monitored.admin_token
    status, rule = await monitored.api.call("PATCH", "/rules/RedisMemoryHigh", admin, json={"for": "2s"})
    assert status == 200
    assert rule["for"] == 2
    owner, token = await monitored.user("full")
    _, stranger = await monitored.user("stranger")
    try:
        inst = await create(monitored, token, "redis", maxmemory="8mb", maxmemory_policy="noeviction")
        iid = inst["id"]
        await wait_health(monitored, token, iid, "up")
        conn = inst["connection"]
        client = redis.Redis(
            host=conn["host"], port=conn["port"], username=conn["username"], password=conn["password"]
        )

        def fill() -> int:
            value = b"x" * (64 * 1024)
            for i in range(1000):
                try:
                    client.set(f"k{i}", value)
                except redis.exceptions.OutOfMemoryError:  # past maxmemory (noeviction)
                    return i
            raise AssertionError("Redis never refused a write")

        written = await asyncio.to_thread(fill)
        assert written > 50

        async def firing() -> bool:
            return await alert_of(monitored, token, iid, "RedisMemoryHigh", "firing") is not None

        assert await wait_until(firing, 10 * COLLECT_INTERVAL, interval=1), await monitored.alerts(token)
        alert = await alert_of(monitored, token, iid, "RedisMemoryHigh", "firing")
        assert alert is not None
        assert alert["value"] > 0.9
        detail = await health(monitored, token, iid)
        assert detail["engine"]["maxmemory"] == 8 * MIB
        assert detail["engine"]["used_memory"] > 0.9 * 8 * MIB
        assert alert["id"] in [a["id"] for a in detail["open_alerts"]]

        # Acknowledge: state and who; only the owner (or an admin) may.
        status, _ = await monitored.api.call(
            "POST", f"/alerts/{alert['id']}/ack", stranger, json={"comment": "x"}
        )
        assert status == 404
        status, acked = await monitored.api.call(
            "POST", f"/alerts/{alert['id']}/ack", token, json={"comment": "raising maxmemory"}
        )
        assert status == 200, acked
        assert acked["status"] == "acknowledged"
        assert acked["acknowledged_by"] == owner
        assert acked["comment"] == "raising maxmemory"
        assert acked["acknowledged_at"]
        assert [h["status"] for h in acked["history"]] == ["pending", "firing", "acknowledged"]
        assert acked["history"][-1]["actor"] == owner
        status, _ = await monitored.api.call("POST", f"/alerts/{alert['id']}/ack", token, json={})
        assert status == 409
        admin_view = await alert_of(monitored, admin, iid, "RedisMemoryHigh")
        assert admin_view is not None
        assert admin_view["acknowledged_by"] == owner
        assert await monitored.alerts(stranger, instance_id=iid) == []

        # Instance metrics: the owner's only.
        status, series = await monitored.api.call("GET", f"/instances/{iid}/metrics", token)
        assert status == 200
        assert series["items"]
        assert series["items"][0]["engine"]["used_memory"] > 0
        status, _ = await monitored.api.call("GET", f"/instances/{iid}/metrics", stranger)
        assert status == 404

        await asyncio.to_thread(client.flushall)

        async def resolved() -> bool:
            found = await alert_of(monitored, token, iid, "RedisMemoryHigh")
            return found is not None and found["status"] == "resolved"

        assert await wait_until(resolved, 10 * COLLECT_INTERVAL, interval=1)
        client.close()
        await delete(monitored, token, iid)
    finally:
        await monitored.api.call("PATCH", "/rules/RedisMemoryHigh", admin, json={"for": "1m"})


async def test_a_removed_container_is_an_event(
    monitored: Monitored, docker_client: docker.DockerClient
) -> None:
    _, token = await monitored.user("removed")
    inst = await create(monitored, token, "redis", maxmemory="8mb")
    iid = inst["id"]
    await wait_health(monitored, token, iid, "up")
    [container] = dbvend_containers(docker_client, iid)
    await asyncio.to_thread(container.remove, force=True)

    async def recorded() -> bool:
        return bool(await monitored.events(kind="container_missing", instance_id=iid))

    assert await wait_until(recorded, 6 * COLLECT_INTERVAL + 30, interval=0.5)
    detail = await health(monitored, token, iid)
    assert detail["state"] == "down"
    assert detail["container"]["status"] == "missing"
    await monitored.rounds_pass(2)
    assert len(await monitored.events(kind="container_missing", instance_id=iid)) == 1  # said once
    assert await _repairs(monitored, iid) == []
    await delete(monitored, token, iid)
