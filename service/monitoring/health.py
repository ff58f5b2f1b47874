"""What an instance's detail says about its health: the latest sample (stale when older
than a few collection rounds) and its open alerts."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime

from ..db.alerts import Alert
from ..db.samples import Sample


@dataclass(frozen=True)
class Health:
    state: str  # up | down | unknown (monitoring off, not collected yet, or stale) | not_running
    sample: Sample | None
    open_alerts: list[Alert]


def stale_after(collect_interval: float) -> float:
    return max(60.0, collect_interval * 4)


def health_holds_for(sample: Sample | None, *, collect_interval: float) -> float:
    """Seconds until health_of's answer for this sample changes by time alone (it turns
    stale): what a cached detail may be served for, new samples aside."""
    if sample is None or sample.at is None or collect_interval <= 0:
        return math.inf
    age = (datetime.now(UTC) - sample.at).total_seconds()
    left = stale_after(collect_interval) - age
    return left if left > 0 else math.inf


def health_of(
    sample: Sample | None,
    open_alerts: list[Alert],
    *,
    collect_interval: float,
    status: str = "running",
    changed_at: datetime | None = None,
) -> Health:
    """`status` is the instance's: health is about a running instance (any other reads
    not_running, whatever the last sample saw). A sample that saw it down before its last
    change (`changed_at`: a start, a restart) says nothing of it now: unknown until the next."""
    state = "unknown"
    if status != "running":
        state = "not_running"
    elif sample is not None and sample.at is not None and collect_interval > 0:
        age = (datetime.now(UTC) - sample.at).total_seconds()
        if age <= stale_after(collect_interval):
            state = "up" if sample.up else "down"
        if state == "down" and changed_at is not None and sample.at < changed_at:
            state = "unknown"
    return Health(state, sample, open_alerts)
