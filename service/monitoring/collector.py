"""The instance collector: one round probes each running engine with dbvend's admin
account (its own protocol: up or down, its metrics, its uptime), asks the Docker hosts that
need it, in one ansible-runner call of playbooks/collect.yml (one module execution per
host), for the state of their dbvend containers and the disk they use, and turns it all
into one sample per instance and one per host (its data root's filesystem).

A host is asked when one of its probes failed or saw the server start again (a restart is
then counted in this round), when one of its instances is new to this process or was
down, and otherwise every `full_interval` seconds (memory, CPU, disk, restart counts):
an Ansible run costs about a second of CPU, a probe a millisecond. Between reads an
instance's container figures are those of the last read."""

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
# Seconds an engine's start time (probe time - uptime) may wander without a restart: the
# uptime is whole seconds and the probe itself takes a moment on a loaded host.
START_TOLERANCE = 5.0
# A server that started this recently is read by Ansible each round (a second restart
# right after a first would move its start time by less than the tolerance).
FRESH_SECONDS = 30.0


Probed = tuple[ProbeResult, float | None]  # a probe, and the engine's start time it implies


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
    asked: list[str] = field(default_factory=list)  # hosts collect.yml read this round
    carried: set[str] = field(default_factory=set)  # instances whose container is the last read's
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
        full_interval: float = 0.0,
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
        self.full_interval = full_interval
        self._containers: dict[str, dict[str, Any]] = {}  # instance id -> its container, last read
        self._read_at: dict[str, float] = {}  # host -> monotonic time of its last collect.yml read
        self._started: dict[str, float] = {}  # instance id -> engine start (epoch seconds)
        self.rounds = 0

    def forget(self) -> None:
        """Drop the previous round: the next one continues from the store."""
        self._previous = None
        self._baselines = {}
        self._hosts = {}
        self._containers = {}
        self._read_at = {}
        self._started = {}

    def _must_ask(self, host: str, insts: list[Instance], probes: Mapping[str, Probed], mono: float) -> bool:
        """Whether collect.yml reads this host in this round (see the module's docstring)."""
        last = self._read_at.get(host)
        if self.full_interval <= 0 or last is None or mono - last >= self.full_interval:
            return True
        for inst in insts:
            container, (probe, started) = self._containers.get(inst.id), probes[inst.id]
            before = self._started.get(inst.id)
            if container is None or not container.get("running") or not probe.up:
                return True
            if started is None or before is None or abs(started - before) > START_TOLERANCE:
                return True  # the server started again since the last round: count it now
            if time.time() - started < FRESH_SECONDS:
                return True
        return False

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
        step = time.perf_counter()
        every = [i for insts in targets.values() for i in insts]
        probed = await asyncio.gather(*(self._timed_probe(i) for i in every))
        probes = {inst.id: p for inst, p in zip(every, probed, strict=True)}
        current.timings["probes"] = time.perf_counter() - step
        mono = time.monotonic()
        asked = {name: insts for name, insts in targets.items() if self._must_ask(name, insts, probes, mono)}
        current.asked = sorted(asked)
        if asked:
            hostvars = {
                name: {**hosts[name].variables, "dbvend_collect_instances": [i.id for i in insts]}
                for name, insts in asked.items()
            }
            step = time.perf_counter()
            result = await self.runner.run(PLAYBOOK, hostvars)
            current.timings["ansible"] = time.perf_counter() - step
            for name in asked:
                outcome = result.outcome(name)
                facts = result.facts.get(name, {})
                if not outcome.ok or name not in result.facts:
                    current.failed_hosts[name] = (outcome.error or "no answer")[:500]
                else:
                    self._read_at[name] = mono
                for container in facts.get("containers") or []:
                    iid = container.get("instance_id")
                    if isinstance(iid, str):
                        current.containers[iid] = container
                if (disk := _host_sample(name, facts.get("data_root"))) is not None:
                    current.hosts[name] = disk
        for name, insts in targets.items():
            for inst in insts:
                current.instances[inst.id] = inst
                if name not in asked and inst.id in self._containers:
                    current.containers[inst.id] = self._containers[inst.id]
                    current.carried.add(inst.id)
        fresh = list(current.hosts.values())
        # A host that did not answer, or was not asked, keeps its last figures (its alert
        # must not clear because it went quiet).
        current.hosts = {
            **{h: s for h, s in self._hosts.items() if h in targets and h not in current.hosts},
            **current.hosts,
        }
        await self._load_baselines(current)
        current.states = [
            await self._observe(inst, current, probes[inst.id][0]) for inst in current.instances.values()
        ]
        self._containers = {i: c for i, c in current.containers.items() if i in current.instances}
        self._started = {i: started for i, (p, started) in probes.items() if p.up and started is not None}
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
            "collection round: %d instance(s) on %d host(s) in %.2f s (collect.yml on %d; %s)",
            len(current.states),
            len(targets),
            current.seconds,
            len(asked),
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

    async def _observe(self, inst: Instance, current: Round, probe: ProbeResult) -> InstanceState:
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
            carried = inst.id in current.carried
            sample = self._sample(inst, current.containers[inst.id], previous, baseline, probe, carried)
        return InstanceState(inst.id, inst.engine, inst.host, inst.owner, sample)

    def _sample(
        self,
        inst: Instance,
        container: Mapping[str, Any],
        previous: Sample | None,
        baseline: Baseline | None,
        probe: ProbeResult,
        carried: bool,
    ) -> Sample:
        started_at = _time(container.get("started_at"))
        restart_count = _int(container.get("restart_count"))
        container_id = container.get("id") if isinstance(container.get("id"), str) else None
        status = str(container.get("status") or "unknown")
        if not container.get("running"):
            probe = ProbeResult(False, error=f"container {status}")
        # CPU % needs two reads of the counters: a carried container keeps the last figure.
        if carried:
            cpu_percent = previous.cpu_percent if previous is not None else None
        else:
            cpu_percent = _cpu_percent(container, previous, started_at)
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
            cpu_percent=cpu_percent,
            cpu_usage_ns=container.get("cpu_usage_ns"),
            system_usage_ns=container.get("system_usage_ns"),
            online_cpus=container.get("online_cpus"),
            engine=engine,
            error=probe.error or container.get("error"),
            container_id=container_id,
            disk_bytes=_int(container.get("data_bytes")),
        )

    async def _timed_probe(self, inst: Instance) -> Probed:
        """The probe and the engine's start time it implies (epoch seconds; None when the
        engine did not say its uptime)."""
        probe = await self._probe(inst)
        uptime = probe.metrics.get("uptime_seconds") if probe.up else None
        if not isinstance(uptime, int | float) or isinstance(uptime, bool):
            return probe, None
        return probe, time.time() - float(uptime)

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
