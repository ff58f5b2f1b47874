"""Restarts between two samples of an instance. Docker's RestartCount is what the restart
policy did since the container was created or last started by hand (`docker start`, a
repair, the Docker daemon starting again): it belongs to one container and can go back
to zero. So each instance keeps a baseline (container id, count), and:

- no baseline (a new instance, never sampled): its container was made with zero, so
  every restart it reports is one (a crash before the first round is alerted);
- another container (a repair or a changed setting recreated it): counts from zero too;
- the same container with a lower count: a hand start reset it, counts from zero;
- a container seen stopped (exited, created, dead) comes back only by a hand start, so
  the baseline it leaves is zero."""

from __future__ import annotations

from dataclasses import dataclass

from ..db.samples import Sample

# Container states in which the restart policy will not bring the server back.
STOPPED = ("exited", "created", "dead")


@dataclass(frozen=True)
class Baseline:
    container_id: str | None  # None: a sample from before samples named their container
    restart_count: int


def baseline_of(sample: Sample) -> Baseline | None:
    """What the next sample of the instance is compared with; None when this sample did
    not see the container (the baseline before it stands)."""
    if sample.restart_count is None:
        return None
    count = 0 if sample.container_status in STOPPED else sample.restart_count
    return Baseline(sample.container_id, count)


def restarts_since(baseline: Baseline | None, container_id: str | None, restart_count: int | None) -> int:
    if restart_count is None or restart_count < 0:
        return 0
    if baseline is None:
        return restart_count
    if container_id and baseline.container_id and container_id != baseline.container_id:
        return restart_count
    if restart_count < baseline.restart_count:
        return restart_count
    return restart_count - baseline.restart_count
