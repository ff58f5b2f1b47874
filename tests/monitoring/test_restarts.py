"""Restarts between samples (service/monitoring/restarts.py), case by case: Docker's
RestartCount belongs to one container, starts at zero and is reset by a hand start
(checked against a real engine in test_first_crash.py and by `docker start`'s behaviour
described in restarts.py)."""

from __future__ import annotations

import pytest

from service.db.samples import Sample
from service.monitoring.restarts import Baseline, baseline_of, restarts_since


@pytest.mark.parametrize(
    ("baseline", "container_id", "restart_count", "expected"),
    [
        # A new instance, never sampled: its container was made with zero restarts.
        (None, "c1", 0, 0),
        (None, "c1", 1, 1),
        (None, "c1", 3, 3),
        # The same container: the difference.
        (Baseline("c1", 2), "c1", 2, 0),
        (Baseline("c1", 2), "c1", 5, 3),
        # A hand start (a repair, docker start, the daemon starting again) reset the count.
        (Baseline("c1", 4), "c1", 1, 1),
        (Baseline("c1", 4), "c1", 0, 0),
        # Another container (recreated by a repair or a changed setting) counts from zero.
        (Baseline("c1", 4), "c2", 0, 0),
        (Baseline("c1", 4), "c2", 1, 1),
        (Baseline("c1", 0), "c2", 6, 6),
        # Samples from before containers were named: the difference, as before.
        (Baseline(None, 2), "c1", 3, 1),
        (Baseline(None, 2), "c1", 2, 0),
        # The container could not be read.
        (Baseline("c1", 2), "c1", None, 0),
        (None, None, None, 0),
    ],
)
def test_restarts_since(
    baseline: Baseline | None, container_id: str | None, restart_count: int | None, expected: int
) -> None:
    assert restarts_since(baseline, container_id, restart_count) == expected


def test_the_baseline_a_sample_leaves() -> None:
    running = Sample("i-1", "running", True, restart_count=3, container_id="c1")
    assert baseline_of(running) == Baseline("c1", 3)
    # Stopped: only a hand start brings it back, and that resets Docker's count.
    for status in ("exited", "created", "dead"):
        assert baseline_of(Sample("i-1", status, False, restart_count=3, container_id="c1")) == Baseline(
            "c1", 0
        )
    # Host down, container missing: no count seen; the baseline before it stands.
    assert baseline_of(Sample("i-1", "unknown", False)) is None
    assert baseline_of(Sample("i-1", "missing", False)) is None
