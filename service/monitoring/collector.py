"""The instance collector: one round probes each running engine with dbvend's admin
account (its own protocol: up or down, its metrics, its uptime), asks the Docker hosts that
need it, in one ansible-runner call of playbooks/collect.yml (one module execution per
host), for the state of their dbvend containers and the disk they use, and turns it all
into one sample per instance and one per host (its data root's filesystem).

A host is asked when one of its probes failed or saw the server start again, when one of
its instances is new to this process or was down, and otherwise every `full_interval`
seconds (memory, CPU, disk, restart counts): an Ansible run costs about a second of CPU,
a probe a millisecond, and under load the read takes 10-30 s. So a round waits for the
read only for an instance it has no container state of yet (first sight, or an operation
ended on it since); every other instance gets its sample from its probe at once (down, or
up with its metrics) with the container figures of the last read, while collect.yml runs
in the background (one run at a time per collector) and the next round merges what it
read. A restart the probe sees (the engine's start time moved) is counted in the round
that sees it; the restart count delta of the next read is reduced by the restarts counted
so, so one restart counts once."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
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
from ..operations.runner import PlaybookRunner
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
# Seconds a probe may take: one attempt, so a hung server is seen as down this soon (a
# healthy one answers in milliseconds; one slow answer only makes an alert pending).
PROBE_TIMEOUT = 3.0


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
    asked: list[str] = field(default_factory=list)  # hosts this round started collect.yml for
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


@dataclass
class _Read:
    """One collect.yml run: what it read of each host it asked."""

    started: float  # monotonic time the run started
    instances: dict[str, list[str]]  # host -> the instance ids it was asked about
    containers: dict[str, dict[str, Any]] = field(default_factory=dict)  # instance id -> container
    failed: dict[str, str] = field(default_factory=dict)  # host -> why it did not answer
    disks: dict[str, HostSample] = field(default_factory=dict)
    seconds: float = 0.0


class InstanceCollector:
    def __init__(
        self,
        pool: Pool,
        runner: PlaybookRunner,
        hosts: Callable[[], Mapping[str, DockerHost]],
        box: SecretBox,
        *,
        probe_timeout: float = PROBE_TIMEOUT,
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
        self._seen_at: dict[str, float] = {}  # instance id -> start of the read its container is from
        self._read_at: dict[str, float] = {}  # host -> monotonic time of its last collect.yml read
        self._started: dict[str, float] = {}  # instance id -> engine start (epoch seconds)
        # Instance id -> when each restart counted from a probe was seen (monotonic), until
        # a read's restart count delta takes it up.
        self._probe_restarts: dict[str, list[float]] = {}
        self._reading: asyncio.Task[_Read] | None = None  # the background collect.yml run
        # Instances whose state was dropped while the background read ran: what it read of
        # them may predate an operation on them.
        self._stale: set[str] = set()
        self._round_at: datetime | None = None  # when the previous round started
        self._last_states: list[InstanceState] = []  # the previous round's, for rechecks
        self._last_failed: set[str] = set()  # the hosts the previous round had no answer from
        self.rounds = 0

    def forget(self) -> None:
        """Drop the previous round: the next one continues from the store."""
        if self._reading is not None:
            self._reading.cancel()  # what it reads belongs to the state dropped here
            self._reading = None
        self._previous = None
        self._baselines = {}
        self._hosts = {}
        self._containers = {}
        self._seen_at = {}
        self._read_at = {}
        self._started = {}
        self._probe_restarts = {}
        self._stale = set()
        self._round_at = None
        self._last_states = []
        self._last_failed = set()

    async def stop(self) -> None:
        """Cancel the background read, if any, and wait for it to end."""
        task, self._reading = self._reading, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def wait_read(self) -> None:
        """Wait until the background read, if any, has ended (tests and benchmarks); the next
        round merges it."""
        if self._reading is not None:
            await asyncio.wait([self._reading])

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
                return True  # the server started again since the last round: read its count
            if time.time() - started < FRESH_SECONDS:
                return True
        return False

    def _restarted(self, iid: str, probed: Probed) -> bool:
        """Whether the probe saw the engine start again since the last round it answered, on
        an instance with container state (else the read counts it from Docker)."""
        probe, started = probed
        before = self._started.get(iid)
        if not probe.up or started is None or before is None or iid not in self._containers:
            return False
        return abs(started - before) > START_TOLERANCE

    async def _read(self, hosts: Mapping[str, DockerHost], asked: Mapping[str, list[Instance]]) -> _Read:
        """Run collect.yml once for these hosts; a run that raises fails every host."""
        read = _Read(time.monotonic(), {name: [i.id for i in insts] for name, insts in asked.items()})
        hostvars = {
            name: {**hosts[name].variables, "dbvend_collect_instances": ids}
            for name, ids in read.instances.items()
        }
        step = time.perf_counter()
        try:
            result = await self.runner.run(PLAYBOOK, hostvars)
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
            if (disk := _host_sample(name, facts.get("data_root"))) is not None:
                read.disks[name] = disk
        return read

    def _landed(self) -> _Read | None:
        """The background read, once it has ended (then it is taken)."""
        task = self._reading
        if task is None or not task.done():
            return None
        self._reading = None
        if task.cancelled():
            return None
        if (exc := task.exception()) is not None:  # _read catches the runner's; this is a bug
            log.error("the background collect.yml read failed", exc_info=exc)
            return None
        return task.result()

    def _merge(self, read: _Read, current: Round, skip: set[str] | None = None) -> dict[str, float]:
        """Take a read into this round (but not what it read of `skip`); the instance ids it
        read, with when it started."""
        fresh: dict[str, float] = {}
        for name, ids in read.instances.items():
            if name in read.failed:
                current.failed_hosts[name] = read.failed[name]
                continue
            current.failed_hosts.pop(name, None)  # a later read of it answered
            self._read_at[name] = read.started
            if name in read.disks:
                current.hosts[name] = read.disks[name]
            for iid in ids:
                if skip and iid in skip:
                    continue
                if read.started < self._seen_at.get(iid, float("-inf")):
                    continue  # a later read (a first sight's, waited for) has it already
                if iid in read.containers:
                    current.containers[iid] = self._containers[iid] = read.containers[iid]
                else:
                    current.containers.pop(iid, None)  # gone: it is missing now
                    self._containers.pop(iid, None)
                self._seen_at[iid] = read.started
                fresh[iid] = read.started
        return fresh

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
        every = [i for insts in targets.values() for i in insts]
        for inst in every:
            current.instances[inst.id] = inst
        # An operation that ran between two rounds (a restart, a recreate) may have reset
        # the container: its instance is read again as if new, its restart not counted.
        if self._round_at is not None and self._containers:
            for iid in await repairs_repo.ended_since(self.pool, list(self._containers), self._round_at):
                self._forget_instance(iid)
        self._round_at = now
        step = time.perf_counter()
        probed = await asyncio.gather(*(self._timed_probe(i) for i in every))
        probes = {inst.id: p for inst, p in zip(every, probed, strict=True)}
        current.timings["probes"] = time.perf_counter() - step
        mono = time.monotonic()
        restarted = {iid for iid, p in probes.items() if self._restarted(iid, p)}
        for iid in restarted:
            self._probe_restarts.setdefault(iid, []).append(mono)
        fresh: dict[str, float] = {}
        if (landed := self._landed()) is not None:
            current.timings["ansible (background)"] = landed.seconds
            fresh = self._merge(landed, current, self._stale)
            self._stale = set()
        asked = {name: insts for name, insts in targets.items() if self._must_ask(name, insts, probes, mono)}
        # Only a host with an instance of no container state makes the round wait.
        now_hosts = {
            name: insts for name, insts in asked.items() if any(i.id not in self._containers for i in insts)
        }
        later = {name: insts for name, insts in asked.items() if name not in now_hosts}
        if now_hosts:
            if self._reading is None:  # one run for both, as this round waits anyway
                now_hosts, later = asked, {}
            read = await self._read(hosts, now_hosts)
            current.timings["ansible"] = read.seconds
            fresh |= self._merge(read, current)
        if later and self._reading is None:
            self._reading = asyncio.create_task(self._read(hosts, later), name="dbvend-collect-read")
        else:
            later = {}  # one background read at a time: the next round asks again
        current.asked = sorted(set(now_hosts) | set(later))
        for iid in current.instances:
            if iid not in current.containers and iid not in fresh and iid in self._containers:
                current.containers[iid] = self._containers[iid]
                current.carried.add(iid)
        disks = list(current.hosts.values())
        # A host that did not answer, or was not asked, keeps its last figures (its alert
        # must not clear because it went quiet).
        current.hosts = {
            **{h: s for h, s in self._hosts.items() if h in targets and h not in current.hosts},
            **current.hosts,
        }
        await self._load_baselines(current)
        current.states = [
            await self._observe(inst, current, probes[inst.id][0], iid in restarted, fresh.get(iid))
            for iid, inst in current.instances.items()
        ]
        if self._reading is not None:
            self._stale |= {i for i in self._containers if i not in current.instances}
        self._containers = {i: c for i, c in current.containers.items() if i in current.instances}
        # A server that does not answer keeps its last start time: a crash while it was
        # down is seen as a restart when it answers again.
        starts = {i: s for i, (_, s) in probes.items() if s is not None}
        self._started = starts | {i: t for i, t in self._started.items() if i in probes and i not in starts}
        self._seen_at = {i: t for i, t in self._seen_at.items() if i in self._containers}
        self._probe_restarts = {i: t for i, t in self._probe_restarts.items() if t and i in current.instances}
        await samples_repo.insert_many(self.pool, current.samples, now)
        await host_samples_repo.insert_many(self.pool, disks, now)
        self._previous = {s.instance_id: s for s in current.samples}
        self._hosts = current.hosts
        self._last_states = current.states
        self._last_failed = set(current.failed_hosts)
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
            len(current.asked),
            ", ".join(f"{k} {v:.2f} s" for k, v in current.timings.items()),
        )
        return current

    async def recheck(self, ids: list[str]) -> list[InstanceState]:
        """Probe these instances again between rounds (the ones found down): a state each for
        those still running and settled, from the probe alone (nothing is written; the next
        round samples them as usual)."""
        wanted, found = set(ids), []
        for host in sorted({s.host for s in self._last_states if s.id in wanted}):
            running = [
                i
                for i in await instances_repo.live_on_host(self.pool, host)
                if i.id in wanted and i.status == "running"
            ]
            settled = await repairs_repo.settled(self.pool, [i.id for i in running])
            found += [i for i in running if i.id in settled]
        last = {s.id: s for s in self._last_states}
        # Down for want of a container or of an answer from its host: a probe cannot undo
        # that verdict, the next round's read can.
        kept = [
            i for i in found if i.host in self._last_failed or last[i.id].sample.container_status == "missing"
        ]
        asked = [i for i in found if i not in kept]
        probes = await asyncio.gather(*(self._probe(i) for i in asked))
        states = [last[i.id] for i in kept]
        for inst, probe in zip(asked, probes, strict=True):
            before = last[inst.id].sample
            sample = Sample(inst.id, before.container_status, probe.up, error=probe.error)
            states.append(InstanceState(inst.id, inst.engine, inst.host, inst.owner, sample))
        return states

    def _forget_instance(self, iid: str) -> None:
        if self._reading is not None:
            self._stale.add(iid)
        self._containers.pop(iid, None)
        self._seen_at.pop(iid, None)
        self._started.pop(iid, None)
        self._probe_restarts.pop(iid, None)

    async def _load_baselines(self, current: Round) -> None:
        """The restart baseline of each instance of the round: this process's, or else the
        newest sample in the store that saw the container (however old), or else none."""
        current.baselines = {i: self._baselines[i] for i in current.instances if i in self._baselines}
        missing = [i for i in current.instances if i not in current.baselines]
        if missing:
            known = await samples_repo.last_known(self.pool, missing)
            for iid in missing:
                current.baselines[iid] = baseline_of(known[iid]) if iid in known else None

    async def _observe(
        self, inst: Instance, current: Round, probe: ProbeResult, restarted: bool, read_at: float | None
    ) -> InstanceState:
        """`restarted`: the probe saw the server start again; `read_at`: when the read this
        round's container comes from started (None: carried from an earlier round)."""
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
            sample = replace(sample, restarts=self._count(inst.id, sample.restarts, restarted, read_at))
        return InstanceState(inst.id, inst.engine, inst.host, inst.owner, sample)

    def _count(self, iid: str, delta: int, restarted: bool, read_at: float | None) -> int:
        """This round's restarts: one the probe saw now, plus what Docker's count grew by
        since the last read less the restarts probes have counted already."""
        pending = self._probe_restarts.get(iid, [])
        if read_at is None:
            return delta + (1 if restarted else 0)
        taken = min(len(pending), delta)
        # Restarts seen before the read started are in its count if Docker counted them
        # (a hand start resets the count): the read settles them either way.
        self._probe_restarts[iid] = [t for t in pending[taken:] if t > read_at]
        return delta - taken + (1 if restarted else 0)

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
        # A carried state is older than the probe: the probe says whether it is up.
        if not container.get("running") and not carried:
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
