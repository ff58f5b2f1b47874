"""Sending the deliveries queued in `deliveries` (payloads.py): the dispatcher sends due rows,
retries with exponential backoff and logs every attempt's outcome there. The monitoring
loops run it; when they are off (DBVEND_COLLECT_INTERVAL=0) the DeliveryLoop does, so
instance events still reach their webhooks. Any number of processes may send: each
delivery is claimed with FOR UPDATE SKIP LOCKED and a lease (db/webhooks.claim_due).

Webhook URLs are the users': each delivery is checked by the egress policy against the
address actually connected to (the session's resolver), redirects are not followed and
the receiver's answer is never read, so a webhook cannot probe or read internal services.
An attempt's error holds our own words and the status code, never the URL or the body.
Every delivery to a webhook that has a secret is signed (signing.py) over the exact bytes
sent."""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from typing import TYPE_CHECKING

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from yarl import URL

from ..db import webhooks as webhooks_repo
from ..db.webhooks import Delivery
from ..tasks import Guarded
from . import signing
from .egress import EgressPolicy, EgressRefused
from .payloads import body_of, event_name

if TYPE_CHECKING:
    from ..crypto import SecretBox
    from ..db import Pool

log = logging.getLogger(__name__)
POLL_SECONDS = 5.0


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


class DeliveryLoop:
    def __init__(self, pool: Pool, policy: EgressPolicy, box: SecretBox) -> None:
        self.dispatcher = Dispatcher(pool, policy, box=box)
        self._wake = asyncio.Event()
        self.tasks = Guarded(log)

    async def start(self) -> None:
        self.tasks.loop(
            "dbvend-deliveries",
            self._send,
            every=lambda: POLL_SECONDS,
            failure="sending webhook deliveries failed",
            wake=self._wake,
        )

    def wake(self) -> None:
        self._wake.set()

    async def stop(self) -> None:
        await self.tasks.stop()
        await self.dispatcher.close()

    async def _send(self) -> float | None:
        """Send what is due; a full batch goes on at once, else wait for a wake or the poll."""
        sent = await self.dispatcher.send_due()
        return 0.0 if sent >= self.dispatcher.batch else None
