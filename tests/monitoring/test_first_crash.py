"""Hole 7 of issue 8: a Redis whose server crashed before the first collection round saw
it came back with RestartCount 1, the first sample took that as its baseline, and
InstanceRestarted never fired. A new instance's baseline is zero restarts.

The server process is SIGKILLed from the host (a crash: `docker kill` would count as a
manual stop) as soon as its container runs, which is before the worker has marked the
instance running, so before any collection round looks at it (rounds only sample running
instances); the test checks that the first sample did see RestartCount 1."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from typing import Any

import docker

from service.app import RUNTIME
from tests.helpers import wait_until
from tests.monitoring.conftest import COLLECT_INTERVAL, Monitored
from tests.monitoring.test_instances import alert_of, delete


async def _kill_when_running(client: docker.DockerClient, name: str, seconds: float) -> int:
    """SIGKILL the container's main process the moment it runs; its host pid."""
    deadline = asyncio.get_running_loop().time() + seconds
    while asyncio.get_running_loop().time() < deadline:
        with contextlib.suppress(docker.errors.NotFound):
            state = (await asyncio.to_thread(client.api.inspect_container, name))["State"]
            pid = int(state.get("Pid") or 0)
            if state.get("Running") and pid:
                os.kill(pid, signal.SIGKILL)
                return pid
        await asyncio.sleep(0.02)
    raise AssertionError(f"{name} did not start within {seconds} s")


async def test_a_crash_before_the_first_round_fires_instance_restarted(
    monitored: Monitored, docker_client: docker.DockerClient
) -> None:
    _, token = await monitored.user("early")
    status, inst = await monitored.api.call(
        "POST", "/instances", token, json={"engine": "redis", "settings": {"maxmemory": "8mb"}}
    )
    assert status == 202, inst
    iid = inst["id"]
    await _kill_when_running(docker_client, f"dbvend-{iid}", 180)
    status_at_kill = await monitored.db.fetchval("SELECT status FROM instances WHERE id = $1", iid)
    samples_at_kill = await monitored.db.fetchval("SELECT count(*) FROM samples WHERE instance_id = $1", iid)
    assert samples_at_kill == 0, "a round sampled the instance before the crash: nothing to test"

    # The restart policy brings the server back; the worker's readiness check waits for it.
    async def running() -> bool:
        status, body = await monitored.api.call("GET", f"/instances/{iid}", token)
        assert status == 200, body
        assert body["status"] != "failed", body
        return bool(body["status"] == "running")

    assert await wait_until(running, 240, interval=0.5)
    info = await asyncio.to_thread(docker_client.api.inspect_container, f"dbvend-{iid}")
    assert info["RestartCount"] == 1

    async def first_sample() -> dict[str, Any] | None:
        row = await monitored.db.fetchrow(
            "SELECT id, restart_count, restarts FROM samples WHERE instance_id = $1 ORDER BY at LIMIT 1",
            iid,
        )
        return dict(row) if row else None

    async def sampled() -> bool:
        return await first_sample() is not None

    assert await wait_until(sampled, 10 * COLLECT_INTERVAL + 30, interval=0.5)
    first = await first_sample()
    assert first is not None
    assert first["restart_count"] == 1  # the crash came before the first sample
    assert first["restarts"] == 1  # counted from zero, not taken as the baseline
    seen = await monitored.db.fetchval("SELECT container_id FROM samples WHERE id = $1", first["id"])
    assert seen == info["Id"]

    async def firing() -> bool:
        return await alert_of(monitored, token, iid, "InstanceRestarted", "firing") is not None

    assert await wait_until(firing, 4 * COLLECT_INTERVAL + 15, interval=0.5), await monitored.alerts(
        token, instance_id=iid
    )
    alert = await alert_of(monitored, token, iid, "InstanceRestarted", "firing")
    assert alert is not None
    assert alert["value"] == 1
    assert alert["labels"]["instance_id"] == iid

    # Later rounds compare with that first sample: no second count of the same crash, also
    # when the collector starts afresh from the store (as a new leader does).
    monitor = monitored.app[RUNTIME].monitoring
    assert monitor is not None
    monitor.collector.forget()
    rounds = monitor.collector.rounds

    async def two_rounds() -> bool:
        return monitor.collector.rounds >= rounds + 2

    assert await wait_until(two_rounds, 6 * COLLECT_INTERVAL + 30, interval=0.5)
    counted = await monitored.db.fetchval("SELECT sum(restarts) FROM samples WHERE instance_id = $1", iid)
    assert counted == 1
    print(f"killed while the instance was {status_at_kill}")
    await delete(monitored, token, iid)
