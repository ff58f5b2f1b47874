"""The collector does not wait for collect.yml once it has an instance's container state
(service/monitoring/collector.py), with real Redis, Docker and Ansible; the Ansible run
is held back by a gate so the test decides when it lands:

- a `docker pause`d server is sampled down in the very next round, which ends long before
  the read it started, and the read, once landed, says the container is paused;
- a crash the restart policy undid is counted in the round whose probe sees the server
  start again, and once the read brings Docker's restart count, not a second time;
- a restart through the API between two rounds is no crash: not counted."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Iterable, Mapping
from typing import Any, cast

import docker

from service.app import RUNTIME
from service.db.samples import Sample
from service.monitoring.collector import START_TOLERANCE, InstanceCollector, Round
from service.operations.runner import PlaybookRunner, RunResult
from tests.monitoring.conftest import Monitored
from tests.monitoring.test_instances import create, delete

PROBE_TIMEOUT = 2.0


class GatedRunner:
    """The real runner, but each run waits for `gate` first."""

    def __init__(self, runner: PlaybookRunner) -> None:
        self.runner = runner
        self.gate = asyncio.Event()
        self.started = 0
        self.ended = 0

    async def run(
        self, playbook: str, hosts: Mapping[str, Mapping[str, Any]], *, secrets: Iterable[str] = ()
    ) -> RunResult:
        self.started += 1
        await self.gate.wait()
        try:
            return await self.runner.run(playbook, hosts, secrets=secrets)
        finally:
            self.ended += 1


def _collector(m: Monitored) -> tuple[InstanceCollector, GatedRunner]:
    svc = m.app[RUNTIME]
    gated = GatedRunner(svc.runner)
    gated.gate.set()  # the first read (first sight) is waited for
    collector = InstanceCollector(
        svc.pool,
        cast(PlaybookRunner, gated),
        lambda: svc.hosts,
        svc.box,
        full_interval=3600,
        probe_timeout=PROBE_TIMEOUT,
    )
    return collector, gated


def _sample(current: Round, instance_id: str) -> Sample:
    [sample] = [s for s in current.samples if s.instance_id == instance_id]
    return sample


async def test_a_paused_server_is_down_in_the_next_round_without_waiting_for_ansible(
    monitored: Monitored, docker_client: docker.DockerClient
) -> None:
    _, token = await monitored.user("pause")
    iid = (await create(monitored, token, "redis", maxmemory="8mb"))["id"]
    collector, gated = _collector(monitored)
    container = docker_client.containers.get(f"dbvend-{iid}")
    try:
        first = await collector.collect_once()
        assert "ansible" in first.timings  # first sight: waited for
        assert _sample(first, iid).up
        gated.gate.clear()
        container.pause()
        hung = await collector.collect_once()
        sample = _sample(hung, iid)
        assert not sample.up
        assert sample.error  # the probe's timeout
        assert sample.container_status == "running"  # the last read's, carried
        assert iid in hung.carried
        assert hung.asked == [hung.instances[iid].host]
        # The round started the read and ended without it: the read has not even begun.
        assert (gated.started, gated.ended) == (2, 1)
        assert "ansible" not in hung.timings
        assert hung.seconds < PROBE_TIMEOUT + 5, hung.timings

        # A round while the read runs starts no second one and still says down.
        again = await collector.collect_once()
        assert not _sample(again, iid).up
        assert gated.started == 2

        gated.gate.set()
        await collector.wait_read()
        landed = await collector.collect_once()
        assert "ansible (background)" in landed.timings
        assert not _sample(landed, iid).up
        assert _sample(landed, iid).container_status == "paused"
        assert iid not in landed.carried
    finally:
        container.unpause()
        gated.gate.set()
        await collector.stop()
        await delete(monitored, token, iid)


async def test_a_restart_seen_by_the_probe_counts_once_after_the_read_lands(
    monitored: Monitored, docker_client: docker.DockerClient
) -> None:
    _, token = await monitored.user("restart")
    iid = (await create(monitored, token, "redis", maxmemory="8mb"))["id"]
    collector, gated = _collector(monitored)
    container = docker_client.containers.get(f"dbvend-{iid}")
    try:
        first = await collector.collect_once()
        assert _sample(first, iid).restart_count == 0
        # A restart moves the start time by the server's uptime: make it exceed the tolerance.
        await asyncio.sleep(START_TOLERANCE + 2)
        gated.gate.clear()

        container.reload()
        os.kill(int(container.attrs["State"]["Pid"]), signal.SIGKILL)  # a crash, not `docker kill`
        for _ in range(100):
            await asyncio.sleep(0.2)
            container.reload()
            if container.attrs["RestartCount"] >= 1 and container.attrs["State"]["Running"]:
                break
        await asyncio.sleep(1.5)  # the server answers again
        crashed = await collector.collect_once()
        sample = _sample(crashed, iid)
        assert sample.up
        assert sample.restarts == 1  # counted from the probe, at once
        assert sample.restart_count == 0  # Docker's count is the last read's
        assert gated.ended == 1  # the read it started has not run

        gated.gate.set()
        await collector.wait_read()
        landed = await collector.collect_once()
        assert "ansible (background)" in landed.timings
        sample = _sample(landed, iid)
        assert sample.restart_count == 1  # Docker counted the crash...
        assert sample.restarts == 0  # ...which the probe's count had taken already
        await collector.wait_read()
        later = await collector.collect_once()
        assert _sample(later, iid).restarts == 0
        # (The service's own monitor samples the instance too: count this collector's rounds.)
        assert sum(_sample(r, iid).restarts for r in (first, crashed, landed, later)) == 1
    finally:
        gated.gate.set()
        await collector.stop()
        await delete(monitored, token, iid)


async def test_a_restart_operation_between_two_rounds_is_not_counted(
    monitored: Monitored, docker_client: docker.DockerClient
) -> None:
    """A restart through the API that starts and ends between two rounds moves the start
    time as a crash would: the collector reads the instance again as new (waits for the
    read) and counts nothing, as Docker's count does not grow."""
    _, token = await monitored.user("oprestart")
    iid = (await create(monitored, token, "redis", maxmemory="8mb"))["id"]
    collector, _ = _collector(monitored)
    try:
        await collector.collect_once()
        await asyncio.sleep(START_TOLERANCE + 2)
        status, body = await monitored.api.call("POST", f"/instances/{iid}/restart?wait=120", token)
        assert status == 200, body  # done: the operation has ended
        after = await collector.collect_once()
        assert "ansible" in after.timings  # read as new, waited for
        assert _sample(after, iid).up
        assert _sample(after, iid).restarts == 0
    finally:
        await collector.stop()
        await delete(monitored, token, iid)
