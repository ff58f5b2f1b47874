"""How `make test` spreads the suite over pytest-xdist workers (a plugin of tests/conftest.py).

A work unit is a test file, except where tests must share one machine-wide thing: every file
of tests/fleet/ is one unit, so one worker builds the fleet testbed once and runs all of it
while the others run the rest. Units go out longest first (seconds from the last full run
on this machine, .state/test-timings.json, else the committed tests/timings.json), so the
long ones do not start last and leave a worker idle at the end.

The plan is printed before the run (the order and each worker's predicted share), and after
it what each worker actually ran and for how long; the timings file is rewritten from what
was measured.

DBVEND_TEST_ORDER=reverse (shortest first) or shuffle[:SEED] hands the units out in another
order: no test may depend on another's leftovers or on where it runs."""

from __future__ import annotations

import heapq
import json
import os
import random
from collections import OrderedDict, defaultdict
from pathlib import Path
from typing import Any

import pytest
from xdist.scheduler import LoadScopeScheduling

ROOT = Path(__file__).resolve().parent.parent
COMMITTED = ROOT / "tests" / "timings.json"
MEASURED = Path(os.environ.get("DBVEND_STATE_DIR", ROOT / ".state")) / "test-timings.json"
# Directories whose files must run on one worker, in one go.
WHOLE = ("tests/fleet/",)
UNKNOWN_SECONDS = 10.0


def unit_of(nodeid: str) -> str:
    path = nodeid.split("::", 1)[0]
    for prefix in WHOLE:
        if path.startswith(prefix):
            return prefix.rstrip("/")
    return path


def load_timings() -> dict[str, float]:
    for source in (MEASURED, COMMITTED):
        try:
            data = json.loads(source.read_text())
        except (OSError, ValueError):
            continue
        return {str(k): float(v) for k, v in data.items()}
    return {}


def predicted_shares(units: list[tuple[str, float]], workers: int) -> list[tuple[float, list[str]]]:
    """Each unit, in order, onto the least loaded worker: what the scheduler below aims at."""
    heap: list[tuple[float, int]] = [(0.0, n) for n in range(workers)]
    shares: list[tuple[float, list[str]]] = [(0.0, []) for _ in range(workers)]
    for unit, seconds in units:
        load, n = heapq.heappop(heap)
        shares[n] = (load + seconds, [*shares[n][1], unit])
        heapq.heappush(heap, (load + seconds, n))
    return shares


class GroupScheduling(LoadScopeScheduling):
    """LoadScopeScheduling with our units, handed out longest first."""

    def __init__(self, config: pytest.Config, log: Any = None) -> None:
        super().__init__(config, log)
        self.timings = load_timings()

    def _split_scope(self, nodeid: str) -> str:
        return unit_of(nodeid)

    def _assign_work_unit(self, node: Any) -> None:
        # schedule() builds the queue in collection order, then hands out the first units
        # through here: the queue is sorted before the first one leaves.
        if not getattr(self, "_sorted", False):
            self._sorted = True
            ordered = sorted(self.workqueue.items(), key=lambda kv: -self.timings.get(kv[0], UNKNOWN_SECONDS))
            self.workqueue = OrderedDict(ordered)
            self._print_plan()
        super()._assign_work_unit(node)

    def _ordered(self, units: list[tuple[str, Any]]) -> list[tuple[str, Any]]:
        order = os.environ.get("DBVEND_TEST_ORDER", "longest")
        longest = sorted(units, key=lambda kv: -self.timings.get(kv[0], UNKNOWN_SECONDS))
        if order == "reverse":
            return longest[::-1]
        if order.startswith("shuffle"):
            seed = order.partition(":")[2] or "0"
            random.Random(seed).shuffle(units)
            return units
        return longest

    def _print_plan(self) -> None:
        units = [(unit, self.timings.get(unit, UNKNOWN_SECONDS)) for unit in self.workqueue]
        workers = max(1, len(self.nodes))
        order = os.environ.get("DBVEND_TEST_ORDER", "longest first")
        lines = [f"test plan: {len(units)} units over {workers} workers, {order} (seconds):"]
        for n, (load, names) in enumerate(predicted_shares(units, workers)):
            lines.append(f"  worker {n}: ~{load:.0f} s, {len(names)} units: " + ", ".join(names[:6]) + " ...")
        lines.append("  order: " + ", ".join(f"{u} {s:.0f}" for u, s in units[:12]) + " ...")
        reporter = self.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line("\n".join(lines))


class WorkerReport:
    """Collects, on the controller, how long each unit took and on which worker."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.worker_of: dict[str, str] = {}
        self.failed = False

    @pytest.hookimpl
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        unit = unit_of(report.nodeid)
        self.seconds[unit] += report.duration
        node = getattr(report, "node", None)
        if node is not None:
            self.worker_of[unit] = node.gateway.id
        if report.failed:
            self.failed = True

    @pytest.hookimpl
    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if not self.worker_of:
            return
        per_worker: dict[str, list[str]] = defaultdict(list)
        for unit, worker in self.worker_of.items():
            per_worker[worker].append(unit)
        terminalreporter.section("what each worker ran")
        for worker in sorted(per_worker):
            units = sorted(per_worker[worker], key=lambda u: -self.seconds[u])
            total = sum(self.seconds[u] for u in units)
            head = ", ".join(f"{u} {self.seconds[u]:.0f}" for u in units[:5])
            terminalreporter.write_line(f"{worker}: {total:.0f} s in {len(units)} units ({head}, ...)")
        self._save()

    def _save(self) -> None:
        measured = load_timings()
        measured.update({unit: round(s, 1) for unit, s in self.seconds.items()})
        try:
            MEASURED.parent.mkdir(parents=True, exist_ok=True)
            MEASURED.write_text(json.dumps(dict(sorted(measured.items())), indent=1) + "\n")
        except OSError:
            pass


@pytest.hookimpl(tryfirst=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> GroupScheduling:
    return GroupScheduling(config, log)


@pytest.hookimpl(trylast=True)  # after xdist's, which registers the controller's session
def pytest_configure(config: pytest.Config) -> None:
    if config.pluginmanager.has_plugin("dsession"):  # the xdist controller
        config.pluginmanager.register(WorkerReport(), "dbvend-worker-report")
