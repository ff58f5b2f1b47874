"""One round's samples, built from what it gathered (pure: no I/O, no clock): a sample per
instance from its container state (read by collect.yml now or carried from an earlier read)
and its probe, with the restarts counted once whether the probe or Docker's count saw them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from ..db.host_samples import HostSample
from ..db.instances import Instance
from ..db.samples import Sample
from ..engines import ProbeResult
from .conditions import InstanceState
from .deltas import add_deltas
from .restarts import Baseline, restarts_since


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


def cpu_percent(
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


def sample_of(
    inst: Instance,
    container: Mapping[str, Any],
    previous: Sample | None,
    baseline: Baseline | None,
    probe: ProbeResult,
    carried: bool,
) -> Sample:
    """The sample of an instance whose container state is known."""
    started_at = _time(container.get("started_at"))
    restart_count = _int(container.get("restart_count"))
    container_id = container.get("id") if isinstance(container.get("id"), str) else None
    status = str(container.get("status") or "unknown")
    # A carried state is older than the probe: the probe says whether it is up.
    if not container.get("running") and not carried:
        probe = ProbeResult(False, error=f"container {status}")
    # CPU % needs two reads of the counters: a carried container keeps the last figure.
    if carried:
        cpu = previous.cpu_percent if previous is not None else None
    else:
        cpu = cpu_percent(container, previous, started_at)
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
        cpu_percent=cpu,
        cpu_usage_ns=container.get("cpu_usage_ns"),
        system_usage_ns=container.get("system_usage_ns"),
        online_cpus=container.get("online_cpus"),
        engine=engine,
        error=probe.error or container.get("error"),
        container_id=container_id,
        disk_bytes=_int(container.get("data_bytes")),
    )


def count_restarts(
    pending: list[float], delta: int, restarted: bool, read_at: float | None
) -> tuple[int, list[float]]:
    """This round's restarts: one the probe saw now, plus what Docker's count grew by since
    the last read less the restarts probes have counted already (`pending`, when each was
    seen); and what stays pending. `read_at`: when the read this round's container comes
    from started (None: carried from an earlier round, which settled it already)."""
    if read_at is None:
        return delta + (1 if restarted else 0), pending
    taken = min(len(pending), delta)
    # Restarts seen before the read started are in its count if Docker counted them (a hand
    # start resets the count): the read settles them either way.
    return delta - taken + (1 if restarted else 0), [t for t in pending[taken:] if t > read_at]


def observe(
    inst: Instance,
    current: Round,
    probe: ProbeResult,
    restarted: bool,
    read_at: float | None,
    pending: list[float],
) -> tuple[InstanceState, list[float]]:
    """The instance's state in this round, and its restarts still pending."""
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
        sample = sample_of(inst, current.containers[inst.id], previous, baseline, probe, carried)
        restarts, pending = count_restarts(pending, sample.restarts, restarted, read_at)
        sample = replace(sample, restarts=restarts)
    return InstanceState(inst.id, inst.engine, inst.host, inst.owner, sample), pending


def build_states(
    current: Round,
    probes: Mapping[str, ProbeResult],
    restarted: set[str],
    read_at: Mapping[str, float],
    pending: Mapping[str, list[float]],
) -> tuple[list[InstanceState], dict[str, list[float]]]:
    """The round builder: every instance's state, in the round's order, and the restarts
    probes counted that a later read still has to settle."""
    left = dict(pending)
    states = []
    for iid, inst in current.instances.items():
        state, left_of = observe(
            inst, current, probes[iid], iid in restarted, read_at.get(iid), left.get(iid, [])
        )
        if iid in left or left_of:
            left[iid] = left_of
        states.append(state)
    return states, left
