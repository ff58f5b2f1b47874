"""Counter growth between collection rounds, for the counters the engines name."""

from __future__ import annotations

from typing import Any

from ..engines import ENGINES

# Probe counters whose growth since the previous round rules look at (name -> delta name).
COUNTERS = {counter: f"{counter}_delta" for engine in ENGINES.values() for counter in engine.counter_metrics}


def add_deltas(metrics: dict[str, Any], previous: dict[str, Any] | None) -> dict[str, Any]:
    """Counter growth since the previous round; a counter that went down (the server
    restarted) counts from zero."""
    out = dict(metrics)
    for name, delta_name in COUNTERS.items():
        now = metrics.get(name)
        if not isinstance(now, int):
            continue
        before = (previous or {}).get(name)
        if not isinstance(before, int):
            out[delta_name] = 0
        else:
            out[delta_name] = now - before if now >= before else now
    return out
