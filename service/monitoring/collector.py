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
import logging
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from ..db import host_samples as host_samples_repo
from ..db import repairs as repairs_repo
from ..db import samples as samples_repo
from ..db.host_samples import HostSample
from ..db.instances import Instance
from ..db.samples import Sample
from ..db.tls_authorities import bundle_pem
from .conditions import InstanceState
from .probes import PROBE_TIMEOUT, START_TOLERANCE, Probed, Prober, restarted
from .reads import BackgroundRead, Read, read_hosts
from .restarts import Baseline, baseline_of
from .samples import Round, build_states
from .targets import FRESH_SECONDS, must_ask, running_settled

if TYPE_CHECKING:
    from ..crypto import SecretBox
    from ..db import Pool
    from ..inventory import DockerHost
    from ..operations.runner import PlaybookRunner

log = logging.getLogger(__name__)

__all__ = ["FRESH_SECONDS", "START_TOLERANCE", "InstanceCollector", "Round"]


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
        self.prober = Prober(box, timeout=probe_timeout, concurrency=probe_concurrency)
        self.full_interval = full_interval
        self._reading = BackgroundRead()  # the background collect.yml run
        self.rounds = 0
        self.forget()

    def forget(self) -> None:
        """Drop the previous round: the next one continues from the store."""
        self._reading.cancel()  # what it reads belongs to the state dropped here
        self._previous: dict[str, Sample] | None = None
        self._baselines: dict[str, Baseline | None] = {}
        self._hosts: dict[str, HostSample] = {}
        self._containers: dict[str, dict[str, Any]] = {}  # instance id -> its container, last read
        self._seen_at: dict[str, float] = {}  # instance id -> start of the read its container is from
        self._read_at: dict[str, float] = {}  # host -> monotonic time of its last collect.yml read
        self._started: dict[str, float] = {}  # instance id -> engine start (epoch seconds)
        # Instance id -> when each restart counted from a probe was seen (monotonic), until
        # a read's restart count delta takes it up.
        self._probe_restarts: dict[str, list[float]] = {}
        # Instances whose state was dropped while the background read ran: what it read of
        # them may predate an operation on them.
        self._stale: set[str] = set()
        self._round_at: datetime | None = None  # when the previous round started
        self._last_states: list[InstanceState] = []  # the previous round's, for rechecks
        self._last_failed: set[str] = set()  # the hosts the previous round had no answer from

    async def stop(self) -> None:
        """Cancel the background read, if any, and wait for it to end."""
        await self._reading.stop()

    async def wait_read(self) -> None:
        """Wait until the background read, if any, has ended (tests and benchmarks); the next
        round merges it."""
        await self._reading.wait()

    def _merge(self, read: Read, current: Round, skip: set[str] | None = None) -> dict[str, float]:
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
            running = await running_settled(self.pool, name)
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
        self.prober.tls_ca = await bundle_pem(self.pool)
        probed = await asyncio.gather(*(self.prober.timed(i) for i in every))
        probes: dict[str, Probed] = {inst.id: p for inst, p in zip(every, probed, strict=True)}
        current.timings["probes"] = time.perf_counter() - step
        mono = time.monotonic()
        seen_restart = {
            iid for iid, p in probes.items() if restarted(p, self._started.get(iid), iid in self._containers)
        }
        for iid in seen_restart:
            self._probe_restarts.setdefault(iid, []).append(mono)
        fresh: dict[str, float] = {}
        if (landed := self._reading.landed()) is not None:
            current.timings["ansible (background)"] = landed.seconds
            fresh = self._merge(landed, current, self._stale)
            self._stale = set()
        asked = {
            name: insts
            for name, insts in targets.items()
            if must_ask(
                insts,
                probes,
                last_read=self._read_at.get(name),
                full_interval=self.full_interval,
                mono=mono,
                containers=self._containers,
                started=self._started,
            )
        }
        # Only a host with an instance of no container state makes the round wait.
        now_hosts = {
            name: insts for name, insts in asked.items() if any(i.id not in self._containers for i in insts)
        }
        later = {name: insts for name, insts in asked.items() if name not in now_hosts}
        if now_hosts:
            if not self._reading.running:  # one run for both, as this round waits anyway
                now_hosts, later = asked, {}
            read = await read_hosts(self.runner, hosts, now_hosts)
            current.timings["ansible"] = read.seconds
            fresh |= self._merge(read, current)
        if later and not self._reading.running:
            self._reading.start(read_hosts(self.runner, hosts, later))
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
        current.states, self._probe_restarts = build_states(
            current, {iid: p for iid, (p, _) in probes.items()}, seen_restart, fresh, self._probe_restarts
        )
        if self._reading.running:
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
            found += await running_settled(self.pool, host, wanted)
        last = {s.id: s for s in self._last_states}
        # Down for want of a container or of an answer from its host: a probe cannot undo
        # that verdict, the next round's read can.
        kept = [
            i for i in found if i.host in self._last_failed or last[i.id].sample.container_status == "missing"
        ]
        asked = [i for i in found if i not in kept]
        self.prober.tls_ca = await bundle_pem(self.pool)
        probes = await asyncio.gather(*(self.prober.probe(i) for i in asked))
        states = [last[i.id] for i in kept]
        for inst, probe in zip(asked, probes, strict=True):
            before = last[inst.id].sample
            sample = Sample(inst.id, before.container_status, probe.up, error=probe.error)
            states.append(InstanceState(inst.id, inst.engine, inst.host, inst.owner, sample))
        return states

    def _forget_instance(self, iid: str) -> None:
        if self._reading.running:
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
