"""Notifications. Alert changes become Alertmanager webhook (v4) payloads for every webhook
that may see them (an admin's: everything; a user's: its own instances' alerts), grouped
per rule and status, and, when DBVEND_ALERTMANAGER_URL is set, postable alerts for a real
Alertmanager (POST /api/v2/alerts). Each one is a row in `deliveries`, written with the
alert change; the dispatcher sends due rows, retries with exponential backoff and logs
every attempt's outcome there.

Webhook URLs are the users': each delivery is checked by the egress policy against the
address actually connected to (the session's resolver), redirects are not followed and
the receiver's answer is never read, so a webhook cannot probe or read internal services.
An attempt's error holds our own words and the status code, never the URL or the body.

Instance events (service/events, migration 0012) are queued by PostgreSQL itself for the
webhooks subscribed to them; this dispatcher sends them like alerts. Every delivery to a
webhook that has a secret is signed (service/events/signing.py) over the exact bytes sent."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from yarl import URL

from ..db import webhooks as webhooks_repo
from ..db.alerts import Alert
from ..db.webhooks import Delivery, Webhook
from . import signing
from .egress import EgressPolicy, EgressRefused

if TYPE_CHECKING:
    from ..crypto import SecretBox
    from ..db import Executor, Pool
    from .alerting import Change

log = logging.getLogger(__name__)

ZERO_TIME = "0001-01-01T00:00:00Z"
MAX_ATTEMPTS = 8
# Alertmanager treats an alert as resolved once endsAt passes: firing alerts are pushed
# again well within this horizon (see Monitor).
ALERTMANAGER_HORIZON = timedelta(minutes=5)


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


def backoff(attempts: int) -> float:
    """Seconds before the next try after `attempts` failed ones: 5, 10, 20, ... up to 10 min."""
    return float(min(600, 5 * 2 ** max(0, attempts - 1)))


class GuardedResolver(AbstractResolver):
    """Resolves through the egress policy: a refused address raises (an OSError, which
    aiohttp reports as a ClientConnectorError), and the client connects to exactly the
    checked addresses; `hostname` keeps the Host header and TLS name right."""

    def __init__(self, policy: EgressPolicy) -> None:
        self.policy = policy

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_UNSPEC
    ) -> list[ResolveResult]:
        found = [
            a
            for a in await self.policy.addresses(host, port)
            if family in (socket.AF_UNSPEC, _family(a.version))
        ]
        if not found:
            raise EgressRefused("the host has no address of the family asked for")
        return [
            ResolveResult(
                hostname=host,
                host=str(a),
                port=port,
                family=_family(a.version),
                proto=0,
                flags=socket.AI_NUMERICHOST | socket.AI_NUMERICSERV,
            )
            for a in found
        ]

    async def close(self) -> None:
        return None


def _family(version: int) -> socket.AddressFamily:
    return socket.AF_INET6 if version == 6 else socket.AF_INET


def _failure(exc: BaseException, timeout: float) -> tuple[str, bool]:
    """Our own words for a failed attempt (exception texts can hold the URL and its
    credentials), and whether to try again."""
    if isinstance(exc, EgressRefused):
        return f"refused by the webhook policy: {exc}", False
    if isinstance(exc, aiohttp.ClientConnectorError):
        if isinstance(exc.os_error, EgressRefused):
            return f"refused by the webhook policy: {exc.os_error}", False
        return f"cannot connect: {exc.os_error.strerror or type(exc.os_error).__name__}", True
    if isinstance(exc, TimeoutError):
        return f"no answer within {timeout:g} s", True
    return f"request failed: {type(exc).__name__}", True


def body_of(payload: Any) -> bytes:
    """The exact bytes posted, and signed."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


def event_name(payload: Any) -> str:
    """X-Dbvend-Event: the instance event's type, or `alerts` for an Alertmanager payload."""
    kind = payload.get("type") if isinstance(payload, dict) else None
    return kind if isinstance(kind, str) and kind.startswith("instance.") else "alerts"


class Dispatcher:
    def __init__(
        self,
        pool: Pool,
        policy: EgressPolicy,
        *,
        box: SecretBox | None = None,
        timeout: float = 10.0,
        batch: int = 20,
    ) -> None:
        self.pool = pool
        self.policy = policy
        self.box = box  # opens webhooks' signing secrets
        self.timeout = timeout
        self.batch = batch
        # webhooks (users' URLs, guarded) and Alertmanager (the admin's DBVEND_ALERTMANAGER_URL)
        self._sessions: dict[bool, aiohttp.ClientSession] = {}

    async def close(self) -> None:
        sessions, self._sessions = self._sessions, {}
        for session in sessions.values():
            await session.close()

    def _session(self, guarded: bool) -> aiohttp.ClientSession:
        if guarded not in self._sessions:
            connector = (
                aiohttp.TCPConnector(resolver=GuardedResolver(self.policy), use_dns_cache=False)
                if guarded
                else aiohttp.TCPConnector()
            )
            self._sessions[guarded] = aiohttp.ClientSession(
                connector=connector,
                timeout=aiohttp.ClientTimeout(total=self.timeout),
                headers={"User-Agent": "dbvend-notifier"},
                trust_env=False,  # no proxy from the environment: the policy sees the real peer
            )
        return self._sessions[guarded]

    async def send_due(self) -> int:
        """Send what is due now; returns how many were tried."""
        due = await webhooks_repo.claim_due(self.pool, self.batch, lease_seconds=self.timeout * 3)
        if due:
            await asyncio.gather(*(self._send(d) for d in due))
        return len(due)

    async def _send(self, delivery: Delivery) -> None:
        guarded = delivery.webhook_id is not None
        status: int | None = None
        error: str | None = None
        retry_later = True
        try:
            if guarded:
                self.policy.preflight(delivery.target)
            body = body_of(delivery.payload)
            headers = {"Content-Type": "application/json", **self._signed(delivery, body)}
            async with self._session(guarded).post(
                delivery.target, data=body, headers=headers, allow_redirects=False
            ) as response:
                # The body is never read: a webhook must not become a way to read what
                # an address answers.
                status = response.status
                if 300 <= status < 400:
                    error = f"HTTP {status}: redirect not followed"
                elif not 200 <= status < 300:
                    error = f"HTTP {status}"
        except (aiohttp.ClientError, TimeoutError, OSError, ValueError) as exc:
            error, retry_later = _failure(exc, self.timeout)
        attempts = delivery.attempts + 1
        retry = backoff(attempts) if error and retry_later and attempts < delivery.max_attempts else None
        if error:
            log.warning(
                "delivery %s to %s failed (attempt %d of %d): %s",
                delivery.id,
                _netloc(delivery.target),
                attempts,
                delivery.max_attempts,
                error,
            )
        await webhooks_repo.record(
            self.pool,
            delivery.id,
            delivered=error is None,
            response_status=status,
            error=error,
            retry_in=retry,
        )

    def _signed(self, delivery: Delivery, body: bytes) -> dict[str, str]:
        """The signature headers (none for Alertmanager, or a webhook made before secrets)."""
        if delivery.webhook_id is None:
            return {}
        found = {signing.EVENT_HEADER: event_name(delivery.payload)}
        if delivery.secret is not None and self.box is not None:
            # ValueError (a key rotated away) fails the attempt; the secret is never logged.
            secret = self.box.open(delivery.secret)["secret"]
            found |= signing.headers(secret, int(time.time()), body)
        return found


def _netloc(url: str) -> str:
    """host:port of a URL, never its credentials (the only part of it that is logged)."""
    try:
        parsed = URL(url)
        return f"{parsed.raw_host}:{parsed.port}"
    except ValueError:
        return "(unparsable URL)"
