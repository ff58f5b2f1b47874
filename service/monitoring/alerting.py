"""The alert lifecycle. For each rule and each series its condition holds for:
pending (first seen) -> firing (held for `for`) -> acknowledged (by a person, through the
API) -> resolved, automatically, once the condition has been clear for `keep_firing_for`.
A pending alert whose condition clears before `for` elapses is dropped: it never fired.
One open alert per fingerprint (rule + the labels that tell the series apart); every
transition goes to alert_history, and firing/resolved ones are queued for notification
in the same transaction, so a crash cannot lose one or send one twice."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Collection, Iterable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING

from ..db import alerts as alerts_repo
from ..db.alerts import Alert
from ..db.rules import Rule
from .conditions import Finding
from .payloads import Change, Notifier

if TYPE_CHECKING:
    from ..db import Conn, Pool

log = logging.getLogger(__name__)


def fingerprint(rule: str, labels: Mapping[str, str]) -> str:
    canonical = json.dumps([rule, sorted(labels.items())], separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def alert_labels(rule: Rule, finding: Finding) -> dict[str, str]:
    return {"alertname": rule.name, "severity": rule.severity, **rule.labels, **finding.labels}


def alert_annotations(rule: Rule, finding: Finding) -> dict[str, str]:
    return {"summary": finding.summary, "description": rule.description}


class AlertEvaluator:
    def __init__(self, pool: Pool, notifier: Notifier) -> None:
        self.pool = pool
        self.notifier = notifier

    async def evaluate(
        self,
        rules: Iterable[Rule],
        findings: Mapping[int, list[Finding]],
        now: datetime,
        *,
        instances: Collection[str] | None = None,
    ) -> list[Change]:
        """Apply one evaluation of `rules` (what their conditions hold for now, per rule id).
        `instances`: the findings cover only these instances (a recheck between rounds), so
        only their open alerts can clear."""
        rules = list(rules)
        by_id = {r.id: r for r in rules}
        changes: list[Change] = []
        async with self.pool.acquire() as conn, conn.transaction():
            open_alerts = [
                a
                for a in await alerts_repo.open_alerts(conn)
                if a.rule_id in by_id and (instances is None or a.instance_id in instances)
            ]
            by_fingerprint = {a.fingerprint: a for a in open_alerts}
            seen: set[str] = set()
            for rule in rules:
                for finding in findings.get(rule.id, []):
                    fp = fingerprint(rule.name, finding.labels)
                    seen.add(fp)
                    change = await self._holds(conn, rule, finding, fp, by_fingerprint.get(fp), now)
                    if change is not None:
                        changes.append(change)
            for alert in open_alerts:
                if alert.fingerprint in seen:
                    continue
                rule = by_id[alert.rule_id]  # type: ignore[index]
                if alert.status == "pending":
                    await alerts_repo.drop_pending(conn, alert.id)
                elif (now - alert.last_true_at).total_seconds() >= rule.keep_firing_for_seconds:
                    resolved = await alerts_repo.resolve(conn, alert.id, now, "the condition cleared")
                    if resolved is not None:
                        changes.append(Change(resolved, "resolved"))
            await self._notify(conn, changes)
        return changes

    async def _holds(
        self, conn: Conn, rule: Rule, finding: Finding, fp: str, alert: Alert | None, now: datetime
    ) -> Change | None:
        notes = alert_annotations(rule, finding)
        if alert is None:
            alert = await alerts_repo.insert_pending(
                conn,
                rule_id=rule.id,
                rule=rule.name,
                fingerprint=fp,
                severity=rule.severity,
                labels=alert_labels(rule, finding),
                annotations=notes,
                instance_id=finding.instance_id,
                value=finding.value,
                now=now,
            )
            if alert is None:
                return None
        else:
            await alerts_repo.still_true(conn, alert.id, now, finding.value, notes)
        if alert.status == "pending" and (now - alert.pending_since).total_seconds() >= rule.for_seconds:
            fired = await alerts_repo.fire(conn, alert.id, now)
            if fired is not None:
                return Change(fired, "firing")
        return None

    async def retire(self, enabled: Iterable[Rule], now: datetime) -> list[Change]:
        """Resolve the open alerts of rules that were disabled or deleted."""
        ids = {r.id for r in enabled}
        changes: list[Change] = []
        async with self.pool.acquire() as conn, conn.transaction():
            for alert in await alerts_repo.open_alerts(conn):
                if alert.rule_id in ids:
                    continue
                if alert.status == "pending":
                    await alerts_repo.drop_pending(conn, alert.id)
                    continue
                resolved = await alerts_repo.resolve(conn, alert.id, now, "the rule was disabled or deleted")
                if resolved is not None:
                    changes.append(Change(resolved, "resolved"))
            await self._notify(conn, changes)
        return changes

    async def _notify(self, conn: Conn, changes: list[Change]) -> None:
        for change in changes:
            log.log(
                logging.WARNING if change.status == "firing" else logging.INFO,
                "alert %s %s: %s",
                change.alert.rule,
                change.status,
                change.alert.annotations.get("summary", ""),
            )
        if changes:
            await self.notifier.queue(conn, changes)
