"""The instance collector: one round asks every Docker host with running instances, in one
ansible-runner call of playbooks/collect.yml (one module execution per host), for the
state of its dbvend containers, then probes each running engine with dbvend's admin
account, and turns it all into one sample per instance."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from ..crypto import SecretBox
from ..db import instances as instances_repo
from ..db import samples as samples_repo
from ..db.instances import Instance
from ..db.samples import Sample
from ..inventory import DockerHost
from ..provisioning.runner import PlaybookRunner
from .conditions import InstanceState
from .probes import ProbeResult, add_deltas, probe_mysql, probe_redis

if TYPE_CHECKING:
    from ..db import Pool

log = logging.getLogger(__name__)

PLAYBOOK = "collect.yml"
# Container states in which the restart policy will not bring the server back.
STOPPED = ("exited", "created", "dead")


@dataclass
class Round:
    at: datetime
    seconds: float = 0.0
    states: list[InstanceState] = field(default_factory=list)
    containers: dict[str, dict[str, Any]] = field(default_factory=dict)  # instance id -> container
    failed_hosts: dict[str, str] = field(default_factory=dict)
    instances: dict[str, Instance] = field(default_factory=dict)
    previous: dict[str, Sample] = field(default_factory=dict)  # the round before, per instance
    timings: dict[str, float] = field(default_factory=dict)  # seconds per step

    @property
    def samples(self) -> list[Sample]:
        return [s.sample for s in self.states]


def _time(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def _cpu_percent(
    container: Mapping[str, Any], previous: Sample | None, started_at: datetime | None
) -> float | None:
    """Docker's formula over two rounds: container CPU time / host CPU time x CPUs x 100."""
    cpu, system = container.get("cpu_usage_ns"), container.get("system_usage_ns")
    if previous is None or previous.started_at != started_at or not isinstance(cpu, int):
        return None
    if not isinstance(system, int) or previous.cpu_usage_ns is None or previous.system_usage_ns is None:
        return None
    d_cpu, d_system = cpu - previous.cpu_usage_ns, system - previous.system_usage_ns
    if d_cpu < 0 or d_system <= 0:
        return None
    return round(d_cpu / d_system * int(container.get("online_cpus") or 1) * 100, 3)


class InstanceCollector:
    def __init__(
        self,
        pool: Pool,
        runner: PlaybookRunner,
        hosts: Callable[[], Mapping[str, DockerHost]],
        box: SecretBox,
        *,
        probe_timeout: float = 5.0,
        probe_concurrency: int = 16,
    ) -> None:
        self.pool = pool
        self.runner = runner
        self.hosts = hosts
        self.box = box
        self.probe_timeout = probe_timeout
        self._probe_slots = asyncio.Semaphore(probe_concurrency)
        self._previous: dict[str, Sample] | None = None
        self.rounds = 0

    def forget(self) -> None:
        """Drop the previous round: the next one continues from the store."""
        self._previous = None

    async def collect_once(self) -> Round:
        started = time.perf_counter()
        now = datetime.now(UTC)
        hosts = dict(self.hosts())
        targets: dict[str, list[Instance]] = {}
        for name in hosts:
            running = [i for i in await instances_repo.live_on_host(self.pool, name) if i.status == "running"]
            if running:
                targets[name] = running
        if self._previous is None:  # a new leader continues from the store
            self._previous = await samples_repo.latest(self.pool)
        current = Round(at=now, previous=dict(self._previous))
        if targets:
            hostvars = {
                name: {**hosts[name].variables, "dbvend_collect_instances": [i.id for i in insts]}
                for name, insts in targets.items()
            }
            step = time.perf_counter()
            result = await self.runner.run(PLAYBOOK, hostvars)
            current.timings["ansible"] = time.perf_counter() - step
            for name, insts in targets.items():
                outcome = result.outcome(name)
                facts = result.facts.get(name, {})
                if not outcome.ok or name not in result.facts:
                    current.failed_hosts[name] = (outcome.error or "no answer")[:500]
                for container in facts.get("containers") or []:
                    iid = container.get("instance_id")
                    if isinstance(iid, str):
                        current.containers[iid] = container
                for inst in insts:
                    current.instances[inst.id] = inst
        step = time.perf_counter()
        states = await asyncio.gather(*(self._observe(inst, current) for inst in current.instances.values()))
        current.timings["probes"] = time.perf_counter() - step
        current.states = list(states)
        await samples_repo.insert_many(self.pool, current.samples, now)
        self._previous = {s.instance_id: s for s in current.samples}
        current.seconds = time.perf_counter() - started
        self.rounds += 1
        log.info(
            "collection round: %d instance(s) on %d host(s) in %.2f s (%s)",
            len(current.states),
            len(targets),
            current.seconds,
            ", ".join(f"{k} {v:.2f} s" for k, v in current.timings.items()),
        )
        return current

    async def _observe(self, inst: Instance, current: Round) -> InstanceState:
        previous = current.previous.get(inst.id)
        if inst.host in current.failed_hosts:
            sample = Sample(
                inst.id,
                "unknown",
                False,
                error=f"host {inst.host} did not answer: {current.failed_hosts[inst.host]}"[:500],
            )
        elif inst.id not in current.containers:
            sample = Sample(inst.id, "missing", False, error="no container for the instance")
        else:
            sample = await self._sample(inst, current.containers[inst.id], previous)
        return InstanceState(inst.id, inst.engine, inst.host, inst.owner, sample)

    async def _sample(self, inst: Instance, container: Mapping[str, Any], previous: Sample | None) -> Sample:
        started_at = _time(container.get("started_at"))
        restart_count = container.get("restart_count")
        restarts = 0
        if previous is not None and isinstance(restart_count, int) and previous.restart_count is not None:
            restarts = max(0, restart_count - previous.restart_count)
        status = str(container.get("status") or "unknown")
        probe = ProbeResult(False, error=f"container {status}")
        if container.get("running"):
            probe = await self._probe(inst)
        engine = add_deltas(probe.metrics, previous.engine if previous else None) if probe.up else {}
        return Sample(
            instance_id=inst.id,
            container_status=status,
            up=probe.up,
            restart_count=restart_count if isinstance(restart_count, int) else None,
            restarts=restarts,
            oom_killed=bool(container.get("oom_killed")),
            started_at=started_at,
            memory_bytes=container.get("memory_usage"),
            memory_limit_bytes=container.get("memory_limit"),
            cpu_percent=_cpu_percent(container, previous, started_at),
            cpu_usage_ns=container.get("cpu_usage_ns"),
            system_usage_ns=container.get("system_usage_ns"),
            online_cpus=container.get("online_cpus"),
            engine=engine,
            error=probe.error or container.get("error"),
        )

    async def _probe(self, inst: Instance) -> ProbeResult:
        try:
            password = self.box.open(inst.secrets)["admin_password"]
        except (ValueError, KeyError) as exc:
            return ProbeResult(False, error=f"cannot read the admin password: {exc}")
        async with self._probe_slots:
            try:
                if inst.engine == "mysql":
                    return await probe_mysql(inst.address, inst.port, password, self.probe_timeout)
                return await probe_redis(inst.address, inst.port, password, self.probe_timeout)
            except Exception as exc:  # one instance's probe must not end the round
                log.exception("probing %s failed", inst.id)
                return ProbeResult(False, error=f"probe failed: {type(exc).__name__}")
