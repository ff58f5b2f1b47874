"""Checking the conditions (conditions.py) a rule picks. Instance and host conditions are
checked against the samples of the collection round that just ended; service conditions
(API error rate, authentication bursts, provisioning failures, empty pools, failing
backups) against the store, on a short timer. A check returns the series for which the
condition holds now; an open alert whose series is not among them is clear."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..db import backup_schedules, pool_slots, request_stats
from ..db import events as events_repo
from ..db.host_samples import HostSample
from ..db.rules import Rule
from ..db.samples import Sample
from .conditions import CONDITIONS, GIB, MIB, RATIOS, VALUES, Finding, InstanceState

if TYPE_CHECKING:
    from ..db import Executor


def _instance_labels(state: InstanceState) -> dict[str, str]:
    return {"instance_id": state.id, "engine": state.engine, "host": state.host, "owner": state.owner}


def check_instances(rule: Rule, states: list[InstanceState]) -> list[Finding]:
    engine = rule.params.get("engine")
    found: list[Finding] = []
    for state in states:
        if engine and state.engine != engine:
            continue
        hit = _check_instance(rule, state.sample)
        if hit is not None:
            value, summary = hit
            found.append(Finding(_instance_labels(state), value, f"{state.id}: {summary}", state.id))
    return found


def _check_instance(rule: Rule, s: Sample) -> tuple[float | None, str] | None:
    kind = rule.condition
    if kind == "instance_down":
        if s.up:
            return None
        why = s.error or f"container {s.container_status}"
        return 0.0, f"down ({why})"
    if kind == "instance_restarted":
        if s.restarts >= (rule.threshold or 1):
            return float(s.restarts), f"restarted {s.restarts} time(s) since the previous round"
        return None
    if kind == "container_oom_killed":
        if s.oom_killed and (s.restarts > 0 or s.container_status != "running"):
            return 1.0, "OOM-killed (exceeded its container memory limit)"
        return None
    if kind in ("ratio_above", "value_above"):
        table = RATIOS if kind == "ratio_above" else VALUES
        reader, what = table[rule.params["metric"]]
        value = reader(s)
        if value is None or rule.threshold is None or value <= rule.threshold:
            return None
        shown = f"{value:.0%}" if kind == "ratio_above" else f"{value:g}"
        limit = f"{rule.threshold:.0%}" if kind == "ratio_above" else f"{rule.threshold:g}"
        return value, f"{what} is {shown} (above {limit})"
    return None


def check_hosts(rule: Rule, hosts: list[HostSample]) -> list[Finding]:
    if rule.condition != "host_data_root_free_below" or rule.threshold is None:
        return []
    min_free = rule.params.get("min_free_mb")
    found: list[Finding] = []
    for h in sorted(hosts, key=lambda h: h.host):
        if h.free_bytes is None or not h.total_bytes:
            continue
        ratio = h.free_bytes / h.total_bytes
        if ratio >= rule.threshold and (min_free is None or h.free_bytes >= min_free * MIB):
            continue
        summary = (
            f"host {h.host}: {h.free_bytes / GIB:.1f} GiB free of {h.total_bytes / GIB:.1f} GiB"
            f" ({ratio:.0%}) on the filesystem of {h.data_root}"
            f" (at least {rule.threshold:.0%}{f' and {min_free} MiB' if min_free else ''} wanted)"
        )
        found.append(Finding({"host": h.host}, ratio, summary))
    return found


async def check_service(rule: Rule, db: Executor) -> list[Finding]:
    kind = rule.condition
    if kind == "backup_failing":
        return await _backups_failing(db)
    if kind == "pool_empty":
        return [
            Finding(
                {"host": host, "engine": engine, "memory_mb": str(mb)},
                0.0,
                f"host {host}: no ready {engine} slot of {mb} MB in its warm pool of {size}",
            )
            for host, engine, mb, size in await pool_slots.empty_pools(db)
        ]
    window = float(rule.params.get("window", CONDITIONS[kind].params["window"].default))
    threshold = rule.threshold if rule.threshold is not None else CONDITIONS[kind].default_threshold
    assert threshold is not None
    if kind == "api_error_rate":
        requests, errors = await request_stats.totals(db, window)
        minimum = int(rule.params.get("min_requests", 20))
        if requests < minimum or requests == 0 or errors / requests <= threshold:
            return []
        rate = errors / requests
        return [
            Finding(
                {}, rate, f"{errors} of {requests} API requests answered 5xx ({rate:.1%}) in {window:g} s"
            )
        ]
    if kind == "auth_failure_burst":
        counts = await events_repo.counts_by_subject(db, "auth_failure", window)
        return [
            Finding({"client": client}, float(n), f"{n} failed authentications from {client} in {window:g} s")
            for client, n in sorted(counts.items())
            if n >= threshold
        ]
    if kind == "provisioning_failing":
        failed = await events_repo.counts_by_instance(db, ["provisioning_failed"], window)
        return [
            Finding({"instance_id": iid}, float(n), f"{iid}: {latest}", iid)
            for iid, (n, latest) in sorted(failed.items())
            if n >= threshold
        ]
    return []


async def _backups_failing(db: Executor) -> list[Finding]:
    found: list[Finding] = []
    for f in await backup_schedules.failing(db):
        # The error is the worker's own words (the play's failure, never a secret); bounded.
        why = (f.error or "no reason recorded")[:300]
        found.append(
            Finding(
                {"instance_id": f.instance_id},
                0.0,
                f"{f.instance_id}: scheduled backup {f.backup_id} failed: {why}",
                f.instance_id,
            )
        )
    return found
