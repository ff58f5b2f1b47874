"""Reading Docker hosts with playbooks/collect.yml: one ansible-runner call for the hosts a
round asks (one module execution per host) gives each dbvend container's state, restart
count, memory, CPU and disk, and each host's data root filesystem. A run costs about a
second of CPU and under load 10-30 s, so the collector runs most reads in the background
(BackgroundRead, one at a time) and merges what one read into a later round."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Coroutine, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..db.host_samples import HostSample

if TYPE_CHECKING:
    from ..db.instances import Instance
    from ..inventory import DockerHost
    from ..operations.runner import PlaybookRunner

log = logging.getLogger("service.monitoring.collector")

PLAYBOOK = "collect.yml"


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def host_sample(host: str, data_root: object) -> HostSample | None:
    if not isinstance(data_root, Mapping) or not isinstance(data_root.get("path"), str):
        return None
    error = data_root.get("error")
    return HostSample(
        host=host,
        data_root=data_root["path"][:4096],
        total_bytes=_int(data_root.get("total_bytes")),
        free_bytes=_int(data_root.get("free_bytes")),
        error=str(error)[:500] if error else None,
    )


@dataclass
class Read:
    """One collect.yml run: what it read of each host it asked."""

    started: float  # monotonic time the run started
    instances: dict[str, list[str]]  # host -> the instance ids it was asked about
    containers: dict[str, dict[str, Any]] = field(default_factory=dict)  # instance id -> container
    failed: dict[str, str] = field(default_factory=dict)  # host -> why it did not answer
    disks: dict[str, HostSample] = field(default_factory=dict)
    seconds: float = 0.0


async def read_hosts(
    runner: PlaybookRunner, hosts: Mapping[str, DockerHost], asked: Mapping[str, list[Instance]]
) -> Read:
    """Run collect.yml once for these hosts; a run that raises fails every host."""
    read = Read(time.monotonic(), {name: [i.id for i in insts] for name, insts in asked.items()})
    hostvars = {
        name: {**hosts[name].variables, "dbvend_collect_instances": ids}
        for name, ids in read.instances.items()
    }
    step = time.perf_counter()
    try:
        result = await runner.run(PLAYBOOK, hostvars)
    except Exception as exc:  # the next round must still be written
        log.exception("collect.yml failed")
        read.failed = {name: f"collect.yml failed: {type(exc).__name__}" for name in asked}
        return read
    finally:
        read.seconds = time.perf_counter() - step
    for name in asked:
        outcome = result.outcome(name)
        facts = result.facts.get(name, {})
        if not outcome.ok or name not in result.facts:
            read.failed[name] = (outcome.error or "no answer")[:500]
        for container in facts.get("containers") or []:
            iid = container.get("instance_id")
            if isinstance(iid, str):
                read.containers[iid] = container
        if (disk := host_sample(name, facts.get("data_root"))) is not None:
            read.disks[name] = disk
    return read


class BackgroundRead:
    """At most one read running in the background."""

    def __init__(self) -> None:
        self._task: asyncio.Task[Read] | None = None

    @property
    def running(self) -> bool:
        return self._task is not None

    def start(self, read: Coroutine[Any, Any, Read]) -> None:
        self._task = asyncio.create_task(read, name="dbvend-collect-read")

    def landed(self) -> Read | None:
        """The read, once it has ended (then it is taken)."""
        task = self._task
        if task is None or not task.done():
            return None
        self._task = None
        if task.cancelled():
            return None
        if (exc := task.exception()) is not None:  # read_hosts catches the runner's; this is a bug
            log.error("the background collect.yml read failed", exc_info=exc)
            return None
        return task.result()

    def cancel(self) -> None:
        if self._task is not None:
            self._task.cancel()  # what it reads belongs to state being dropped
            self._task = None

    async def stop(self) -> None:
        """Cancel the read, if any, and wait for it to end."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def wait(self) -> None:
        if self._task is not None:
            await asyncio.wait([self._task])
