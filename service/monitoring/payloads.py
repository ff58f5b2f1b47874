"""What monitoring sends, and when it is queued. Alert changes become Alertmanager webhook
(v4) payloads for every webhook that may see them (an admin's: everything; a user's: its own
instances' alerts), grouped per rule and status, and, when DBVEND_ALERTMANAGER_URL is set,
postable alerts for a real Alertmanager (POST /api/v2/alerts). Each one is a row in
`deliveries`, written with the alert change (the Notifier queues it in the caller's
transaction); delivery.py sends them. Instance events (migration 0012) are queued by
PostgreSQL itself for the webhooks subscribed to them."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from ..db import webhooks as webhooks_repo
from ..db.alerts import Alert
from ..db.webhooks import Webhook

if TYPE_CHECKING:
    from ..db import Executor

ZERO_TIME = "0001-01-01T00:00:00Z"
MAX_ATTEMPTS = 8
# Alertmanager treats an alert as resolved once endsAt passes: firing alerts are pushed
# again well within this horizon (see Monitor).
ALERTMANAGER_HORIZON = timedelta(minutes=5)


@dataclass(frozen=True)
class Change:
    """An alert that fired or resolved in one evaluation (alerting.py): what is sent."""

    alert: Alert
    status: str  # "firing" | "resolved"


def _time(value: datetime | None) -> str:
    return value.isoformat().replace("+00:00", "Z") if value is not None else ZERO_TIME


def _common(dicts: Sequence[dict[str, str]]) -> dict[str, str]:
    if not dicts:
        return {}
    first = dicts[0]
    return {k: v for k, v in first.items() if all(d.get(k) == v for d in dicts[1:])}


def webhook_alert(alert: Alert, status: str, external_url: str) -> dict[str, Any]:
    return {
        "status": status,
        "labels": alert.labels,
        "annotations": alert.annotations,
        "startsAt": _time(alert.starts_at or alert.pending_since),
        "endsAt": _time(alert.ends_at) if status == "resolved" else ZERO_TIME,
        "generatorURL": f"{external_url}/api/v1/alerts?rule={alert.rule}",
        "fingerprint": alert.fingerprint,
    }


def webhook_payload(
    receiver: str, rule: str, status: str, alerts: Sequence[dict[str, Any]], external_url: str
) -> dict[str, Any]:
    """The Alertmanager webhook payload, version 4."""
    return {
        "version": "4",
        "groupKey": f'{{}}:{{alertname="{rule}"}}',
        "truncatedAlerts": 0,
        "status": status,
        "receiver": receiver,
        "groupLabels": {"alertname": rule},
        "commonLabels": _common([a["labels"] for a in alerts]),
        "commonAnnotations": _common([a["annotations"] for a in alerts]),
        "externalURL": external_url,
        "alerts": list(alerts),
    }


def postable_alert(alert: Alert, now: datetime, external_url: str) -> dict[str, Any]:
    """An alert as Alertmanager's API v2 takes it."""
    resolved = alert.status == "resolved"
    ends = alert.ends_at if resolved and alert.ends_at else now + ALERTMANAGER_HORIZON
    return {
        "labels": {**alert.labels, "fingerprint": alert.fingerprint},
        "annotations": alert.annotations,
        "startsAt": _time(alert.starts_at or alert.pending_since),
        "endsAt": _time(ends),
        "generatorURL": f"{external_url}/api/v1/alerts?rule={alert.rule}",
    }


def may_see(webhook: Webhook, alert: Alert, owners: dict[str, int]) -> bool:
    if webhook.owner_is_admin:
        return True
    return alert.instance_id is not None and owners.get(alert.instance_id) == webhook.owner_id


class Notifier:
    def __init__(self, external_url: str, alertmanager_url: str | None) -> None:
        self.external_url = external_url
        self.alertmanager_url = alertmanager_url

    async def queue(self, db: Executor, changes: Sequence[Change]) -> None:
        """Queue the deliveries for these alert changes, in the caller's transaction."""
        hooks = await webhooks_repo.list_for(db, None, subscribed="alerts")
        owners = await webhooks_repo.owners_of(
            db, [c.alert.instance_id for c in changes if c.alert.instance_id]
        )
        items: list[tuple[int | None, str, Any]] = []
        for hook in hooks:
            groups: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
            for change in changes:
                if not may_see(hook, change.alert, owners):
                    continue
                if change.status == "resolved" and not hook.send_resolved:
                    continue
                groups[(change.alert.rule, change.status)].append(
                    webhook_alert(change.alert, change.status, self.external_url)
                )
            for (rule, status), alerts in sorted(groups.items()):
                payload = webhook_payload(f"webhook-{hook.id}", rule, status, alerts, self.external_url)
                items.append((hook.id, hook.url, payload))
        if self.alertmanager_url and changes:
            now = max(c.alert.updated_at for c in changes)
            items.append(self._alertmanager_item([c.alert for c in changes], now))
        await webhooks_repo.queue(db, items, max_attempts=MAX_ATTEMPTS)

    def _alertmanager_item(self, alerts: Iterable[Alert], now: datetime) -> tuple[None, str, Any]:
        assert self.alertmanager_url
        body = [postable_alert(a, now, self.external_url) for a in alerts]
        return (None, f"{self.alertmanager_url}/api/v2/alerts", body)

    async def repush(self, db: Executor, firing: Sequence[Alert], now: datetime) -> None:
        """Alertmanager forgets alerts that are not sent again before their endsAt."""
        if self.alertmanager_url and firing:
            await webhooks_repo.queue(db, [self._alertmanager_item(firing, now)], max_attempts=3)


def body_of(payload: Any) -> bytes:
    """The exact bytes posted, and signed."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


TEST_EVENT = "webhook.test"


def test_payload(webhook_id: int, by: str, at: datetime, external_url: str) -> dict[str, Any]:
    """What POST /webhooks/{id}/test sends: signed and delivered like any other payload."""
    return {
        "type": TEST_EVENT,
        "webhook_id": webhook_id,
        "requested_by": by,
        "at": _time(at),
        "externalURL": external_url,
        "message": "a test delivery from dbvend: this webhook receives deliveries",
    }


def event_name(payload: Any) -> str:
    """X-Dbvend-Event: the instance event's type, webhook.test for a test, or `alerts` for an
    Alertmanager payload."""
    kind = payload.get("type") if isinstance(payload, dict) else None
    if kind == TEST_EVENT:
        return TEST_EVENT
    return kind if isinstance(kind, str) and kind.startswith("instance.") else "alerts"
