"""The instance collector: one round asks every Docker host with running instances, in one
ansible-runner call of playbooks/collect.yml (one module execution per host), for the
state of its dbvend containers and the disk they use, then probes each running engine
with dbvend's admin account, and turns it all into one sample per instance and one per
host (its data root's filesystem)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from ..crypto import SecretBox
from ..db import host_samples as host_samples_repo
from ..db import instances as instances_repo
from ..db import repairs as repairs_repo
from ..db import samples as samples_repo
from ..db.host_samples import HostSample
from ..db.instances import Instance
from ..db.samples import Sample
from ..engines import ProbeResult, get_engine
from ..inventory import DockerHost
from ..provisioning.runner import PlaybookRunner
from .conditions import InstanceState
from .deltas import add_deltas
from .restarts import Baseline, baseline_of, restarts_since

if TYPE_CHECKING:
    from ..db import Pool

log = logging.getLogger(__name__)

PLAYBOOK = "collect.yml"


@dataclass
class Round:
    at: datetime
    seconds: float = 0.0
    states: list[InstanceState] = field(default_factory=list)
    containers: dict[str, dict[str, Any]] = field(default_factory=dict)  # instance id -> container
    failed_hosts: dict[str, str] = field(default_factory=dict)
    instances: dict[str, Instance] = field(default_factory=dict)
    previous: dict[str, Sample] = field(default_factory=dict)  # the round before, per instance
    baselines: dict[str, Baseline | None] = field(default_factory=dict)  # restart counts, per instance
    hosts: dict[str, HostSample] = field(default_factory=dict)  # data root filesystems, per host
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


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _host_sample(host: str, data_root: object) -> HostSample | None:
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
        self._baselines: dict[str, Baseline | None] = {}
        self._hosts: dict[str, HostSample] = {}
        self.rounds = 0

    def forget(self) -> None:
        """Drop the previous round: the next one continues from the store."""
        self._previous = None
        self._baselines = {}
        self._hosts = {}

    async def collect_once(self) -> Round:
        started = time.perf_counter()
        now = datetime.now(UTC)
        hosts = dict(self.hosts())
        targets: dict[str, list[Instance]] = {}
        for name in hosts:
            running = [i for i in await instances_repo.live_on_host(self.pool, name) if i.status == "running"]
            # A stop, restart or reconfigure in flight takes the server down on purpose:
            # such an instance is not judged until its operation has ended.
            settled = await repairs_repo.settled(self.pool, [i.id for i in running])
            running = [i for i in running if i.id in settled]
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
                if (disk := _host_sample(name, facts.get("data_root"))) is not None:
                    current.hosts[name] = disk
                for inst in insts:
                    current.instances[inst.id] = inst
        fresh = list(current.hosts.values())
        # A host that did not answer keeps its last figures (its alert must not clear).
        current.hosts = {
            **{h: s for h, s in self._hosts.items() if h in current.failed_hosts},
            **current.hosts,
        }
        await self._load_baselines(current)
        step = time.perf_counter()
        states = await asyncio.gather(*(self._observe(inst, current) for inst in current.instances.values()))
        current.timings["probes"] = time.perf_counter() - step
        current.states = list(states)
        await samples_repo.insert_many(self.pool, current.samples, now)
        await host_samples_repo.insert_many(self.pool, fresh, now)
        self._previous = {s.instance_id: s for s in current.samples}
        self._hosts = current.hosts
        for sample in current.samples:
            if (baseline := baseline_of(sample)) is not None:
                current.baselines[sample.instance_id] = baseline
        self._baselines = current.baselines
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

    async def _load_baselines(self, current: Round) -> None:
        """The restart baseline of each instance of the round: this process's, or else the
        newest sample in the store that saw the container (however old), or else none."""
        current.baselines = {i: self._baselines[i] for i in current.instances if i in self._baselines}
        missing = [i for i in current.instances if i not in current.baselines]
        if missing:
            known = await samples_repo.last_known(self.pool, missing)
            for iid in missing:
                current.baselines[iid] = baseline_of(known[iid]) if iid in known else None

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
            baseline = current.baselines.get(inst.id)
            sample = await self._sample(inst, current.containers[inst.id], previous, baseline)
        return InstanceState(inst.id, inst.engine, inst.host, inst.owner, sample)

    async def _sample(
        self,
        inst: Instance,
        container: Mapping[str, Any],
        previous: Sample | None,
        baseline: Baseline | None,
    ) -> Sample:
        started_at = _time(container.get("started_at"))
        restart_count = _int(container.get("restart_count"))
        container_id = container.get("id") if isinstance(container.get("id"), str) else None
        status = str(container.get("status") or "unknown")
        probe = ProbeResult(False, error=f"container {status}")
        if container.get("running"):
            probe = await self._probe(inst)
        engine = add_deltas(probe.metrics, previous.engine if previous else None) if probe.up else {}
        return Sample(
            instance_id=inst.id,
            container_status=status,
            up=probe.up,
            restart_count=restart_count,
            restarts=restarts_since(baseline, container_id, restart_count),
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
            container_id=container_id,
            disk_bytes=_int(container.get("data_bytes")),
        )

    async def _probe(self, inst: Instance) -> ProbeResult:
        try:
            password = self.box.open(inst.secrets)["admin_password"]
        except (ValueError, KeyError) as exc:
            return ProbeResult(False, error=f"cannot read the admin password: {exc}")
        async with self._probe_slots:
            try:
                engine = get_engine(inst.engine)
                return await engine.probe(inst.address, inst.port, password, self.probe_timeout)
            except Exception as exc:  # one instance's probe must not end the round
                log.exception("probing %s failed", inst.id)
                return ProbeResult(False, error=f"probe failed: {type(exc).__name__}")
