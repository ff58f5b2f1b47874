"""How alerts, rules, webhooks, samples and instance health look in JSON."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ..db.alerts import Alert
from ..db.rules import Rule
from ..db.samples import Sample
from ..db.webhooks import Webhook
from .egress import redact
from .health import Health


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def alert_view(alert: Alert, history: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": alert.id,
        "rule": alert.rule,
        "status": alert.status,
        "severity": alert.severity,
        "labels": alert.labels,
        "annotations": alert.annotations,
        "fingerprint": alert.fingerprint,
        "instance_id": alert.instance_id,
        "value": alert.value,
        "pending_since": _iso(alert.pending_since),
        "starts_at": _iso(alert.starts_at),
        "ends_at": _iso(alert.ends_at),
        "acknowledged_by": alert.acknowledged_by,
        "acknowledged_at": _iso(alert.acknowledged_at),
        "comment": alert.comment,
        "updated_at": _iso(alert.updated_at),
    }
    if history is not None:
        body["history"] = [
            {
                "at": _iso(h["at"]),
                "status": h["status"],
                "actor": h["actor"],
                "comment": h["comment"],
                "value": h["value"],
            }
            for h in history
        ]
    return body


def rule_view(rule: Rule) -> dict[str, Any]:
    return {
        "id": rule.id,
        "name": rule.name,
        "condition": rule.condition,
        "threshold": rule.threshold,
        "params": rule.params,
        "for": rule.for_seconds,
        "keep_firing_for": rule.keep_firing_for_seconds,
        "severity": rule.severity,
        "labels": rule.labels,
        "description": rule.description,
        "enabled": rule.enabled,
        "builtin": rule.builtin,
        "created_at": _iso(rule.created_at),
        "updated_at": _iso(rule.updated_at),
    }


def _scope(hook: Webhook) -> str:
    what = " and ".join({"alerts": "alerts", "instances": "instance events"}[e] for e in hook.events)
    return f"all {what}" if hook.owner_is_admin else f"{what} of the owner's instances"


def webhook_view(hook: Webhook, deliveries: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": hook.id,
        "url": redact(hook.url),  # the owner sees the URL, never its credentials
        "send_resolved": hook.send_resolved,
        "owner": hook.owner,
        "scope": _scope(hook),
        "events": hook.events,
        "signed": hook.signed,
        "created_at": _iso(hook.created_at),
    }
    if deliveries is not None:
        body["deliveries"] = [
            {
                "id": d["id"],
                "status": d["status"],
                "payload_status": d["payload_status"],
                "attempts": d["attempts"],
                "response_status": d["response_status"],
                "error": d["error"],
                "created_at": _iso(d["created_at"]),
                "delivered_at": _iso(d["delivered_at"]),
                "next_attempt_at": _iso(d["next_attempt_at"]) if d["status"] == "pending" else None,
                "max_attempts": d["max_attempts"],
            }
            for d in deliveries
        ]
    return body


def sample_view(sample: Sample) -> dict[str, Any]:
    return {
        "at": _iso(sample.at),
        "up": sample.up,
        "container": {
            "status": sample.container_status,
            "restart_count": sample.restart_count,
            "restarts": sample.restarts,
            "oom_killed": sample.oom_killed,
            "started_at": _iso(sample.started_at),
            "memory_bytes": sample.memory_bytes,
            "memory_limit_bytes": sample.memory_limit_bytes,
            "cpu_percent": sample.cpu_percent,
        },
        "engine": sample.engine,
        "disk_bytes": sample.disk_bytes,
        "error": sample.error,
    }


def health_as_view(health: Health) -> dict[str, Any]:
    latest = sample_view(health.sample) if health.sample is not None else None
    return {
        "state": health.state,
        "checked_at": latest["at"] if latest else None,
        "container": latest["container"] if latest else None,
        "engine": latest["engine"] if latest else None,
        "error": latest["error"] if latest else None,
        "open_alerts": [
            {
                "id": a.id,
                "rule": a.rule,
                "status": a.status,
                "severity": a.severity,
                "starts_at": _iso(a.starts_at),
                "summary": a.annotations.get("summary"),
            }
            for a in health.open_alerts
        ],
    }
