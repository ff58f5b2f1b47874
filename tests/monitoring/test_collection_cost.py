"""What a collection round costs, with the real collector, Redis and Docker: once an
instance has been read by collect.yml and its server has been up a while, a round whose
probes all answer runs no Ansible at all (the engine's own protocol tells up, metrics and
uptime), yet a crash the restart policy undid between two rounds is still counted in the
very round that sees it (its uptime started again) and read in the background, and a hung
server (paused container) is seen down at once and read in the background (test_background_read.py
holds the Ansible run back to show the round does not wait for it)."""

from __future__ import annotations

import asyncio
import os
import signal

import docker

from service.app import RUNTIME
from service.db.samples import Sample
from service.monitoring.collector import FRESH_SECONDS, InstanceCollector, Round
from tests.monitoring.conftest import Monitored
from tests.monitoring.test_instances import create, delete


def _collector(m: Monitored) -> InstanceCollector:
    svc = m.app[RUNTIME]
    # A read at most once an hour: every read below is one the probes asked for.
    return InstanceCollector(svc.pool, svc.runner, lambda: svc.hosts, svc.box, full_interval=3600)


def _sample(current: Round, instance_id: str) -> Sample:
    [sample] = [s for s in current.samples if s.instance_id == instance_id]
    return sample


async def test_healthy_rounds_run_no_ansible_and_a_crash_is_still_counted_at_once(
    monitored: Monitored, docker_client: docker.DockerClient
) -> None:
    _, token = await monitored.user("cost")
    inst = await create(monitored, token, "redis", maxmemory="8mb")
    iid = inst["id"]
    collector = _collector(monitored)
    try:
        first = await collector.collect_once()  # new to this collector: read
        assert "ansible" in first.timings
        assert _sample(first, iid).up
        # A server that started moments ago is read every round (a second crash right after
        # a first would hardly move its start time); past that, a healthy round reads nothing.
        container = docker_client.containers.get(f"dbvend-{iid}")
        await asyncio.sleep(FRESH_SECONDS + 2)
        quiet = await collector.collect_once()
        assert "ansible" not in quiet.timings, quiet.timings
        assert quiet.asked == []
        sample = _sample(quiet, iid)
        assert sample.up
        assert sample.container_status == "running"
        assert sample.restarts == 0
        assert sample.restart_count == _sample(first, iid).restart_count  # the last read's

        # A crash (SIGKILL from the host, not `docker kill`): the policy restarts the server.
        container.reload()
        os.kill(int(container.attrs["State"]["Pid"]), signal.SIGKILL)
        for _ in range(100):  # until Docker has started it again
            await asyncio.sleep(0.2)
            container.reload()
            if container.attrs["RestartCount"] >= 1 and container.attrs["State"]["Running"]:
                break
        await asyncio.sleep(1.5)  # the server answers again: its probe succeeds
        crashed = await collector.collect_once()
        # Its start time moved: counted now, the host read in the background (not waited for).
        assert "ansible" not in crashed.timings, crashed.timings
        assert crashed.asked == [crashed.instances[iid].host]
        assert _sample(crashed, iid).restarts == 1
        await collector.wait_read()

        # A hung server: the probe times out and the round says down from it, with the last
        # read's container; the read that round starts sees the container paused.
        container.pause()
        try:
            hung = await collector.collect_once()
            assert "ansible" not in hung.timings
            assert "ansible (background)" in hung.timings  # the crash round's read landed
            assert not _sample(hung, iid).up
            assert _sample(hung, iid).restarts == 0  # Docker's count of the crash: counted already
            assert _sample(hung, iid).restart_count == 1
            await collector.wait_read()
            read = await collector.collect_once()
        finally:
            container.unpause()
            await collector.stop()
        assert not _sample(read, iid).up
        assert _sample(read, iid).container_status == "paused"
    finally:
        await delete(monitored, token, iid)
