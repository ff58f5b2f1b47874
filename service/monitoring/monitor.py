"""The monitoring loops of one service process. One process at a time leads (a lease in
PostgreSQL, like the host health check): it runs the collection rounds and evaluates the
instance rules after each, evaluates the service rules on a short timer, sends due
notifications, and prunes old rows. Every process records its own requests' events
(EventRecorder), whoever leads."""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Gauge, Histogram

from ..crypto import SecretBox
from ..db import alerts as alerts_repo
from ..db import leases, retention
from ..db import rules as rules_repo
from ..db.rules import Rule
from ..inventory import DockerHost
from ..operations.runner import PlaybookRunner
from ..tasks import Guarded
from .alerting import AlertEvaluator
from .checks import check_hosts, check_instances, check_service
from .collector import InstanceCollector, Round
from .conditions import CONDITIONS, Finding
from .delivery import Dispatcher
from .egress import EgressPolicy
from .payloads import Notifier
from .reconcile import reconcile

if TYPE_CHECKING:
    from ..config import Settings
    from ..db import Pool

log = logging.getLogger(__name__)

LEASE = "monitoring"
REPUSH_SECONDS = 60.0
PRUNE_SECONDS = 3600.0
DISPATCH_POLL_SECONDS = 5.0
RECHECK_SECONDS = 4.0


def rules_of(rules: list[Rule], scope: str) -> list[Rule]:
    return [r for r in rules if r.condition in CONDITIONS and CONDITIONS[r.condition].scope == scope]


class Monitor:
    def __init__(
        self,
        pool: Pool,
        settings: Settings,
        runner: PlaybookRunner,
        hosts: Callable[[], Mapping[str, DockerHost]],
        box: SecretBox,
        registry: CollectorRegistry,
    ) -> None:
        self.pool = pool
        self.settings = settings
        self.owner = settings.worker_id
        self.interval = settings.collect_interval
        self.collector = InstanceCollector(
            pool, runner, hosts, box, full_interval=settings.collect_full_interval
        )
        external = f"http://{settings.listen_host}:{settings.listen_port}"
        self.notifier = Notifier(external, settings.alertmanager_url)
        self.evaluator = AlertEvaluator(pool, self.notifier)
        self.dispatcher = Dispatcher(pool, EgressPolicy.from_settings(settings), box=box)
        self.round_seconds: deque[float] = deque(maxlen=1000)
        self._evaluating = asyncio.Lock()
        self._leading_until = 0.0  # monotonic time until which the lease needs no renewal
        self.tasks = Guarded(log)
        self._wake_dispatch = asyncio.Event()
        self._last_push = self._last_prune = 0.0
        self._round_hist = Histogram(
            "dbvend_collect_round_duration_seconds",
            "Time one collection round takes (collect.yml, engine probes, samples, reconciliation).",
            buckets=(0.5, 1, 2, 3, 5, 7.5, 10, 15, 20, 30, 60),
            registry=registry,
        )
        self._round_instances = Gauge(
            "dbvend_collect_round_instances",
            "Instances observed in the last collection round.",
            registry=registry,
        )
        self._leader = Gauge(
            "dbvend_monitoring_leader", "1 when this process runs the monitoring rounds.", registry=registry
        )

    # -- lifecycle ---------------------------------------------------------------------
    async def start(self) -> None:
        tasks = self.tasks
        tasks.loop(
            "dbvend-monitor-collect", self._collect, every=self._interval, failure="collection round failed"
        )
        tasks.loop(
            "dbvend-monitor-rules",
            self._service_rules,
            every=lambda: self.settings.alert_eval_interval,
            failure="evaluating the service rules failed",
        )
        tasks.loop(
            "dbvend-monitor-notify",
            self._dispatch,
            every=lambda: DISPATCH_POLL_SECONDS,
            failure="sending notifications failed",
            wake=self._wake_dispatch,
        )

    def _interval(self) -> float:
        return self.interval

    async def stop(self) -> None:
        await self.tasks.stop()
        await self.collector.stop()
        await self.dispatcher.close()

    async def _lead(self) -> bool:
        """Take or renew the lease; renewed when a third of it has run out, not on every call
        (the notification loop asks every second)."""
        loop = asyncio.get_running_loop()
        if loop.time() < self._leading_until:
            return True
        seconds = max(30.0, self.interval * 3, self.settings.alert_eval_interval * 3)
        leading = await leases.acquire(self.pool, LEASE, self.owner, seconds)
        self._leading_until = loop.time() + seconds / 3 if leading else 0.0
        self._leader.set(1 if leading else 0)
        return leading

    # -- loop steps (repeat() runs each forever) -----------------------------------------
    async def _collect(self) -> float:
        """A round, the rechecks of what it found down until the next round; the seconds
        until that round."""
        loop = asyncio.get_running_loop()
        started = loop.time()
        down: list[str] = []
        try:
            if await self._lead():
                current = await self.collect_round()
                down = [s.id for s in current.states if not s.sample.up]
            else:
                self.collector.forget()  # another process leads; start afresh if we lead again
        except Exception:
            log.exception("collection round failed")
        next_round = started + self.interval
        # Down instances are probed again every RECHECK_SECONDS until the next round, so
        # InstanceDown (for: 10 s) fires after three or four failed probes, not three rounds.
        next_check = loop.time() + RECHECK_SECONDS
        while down and next_check < next_round:
            await asyncio.sleep(max(0.0, next_check - loop.time()))
            next_check += RECHECK_SECONDS
            try:
                down = await self.recheck(down) if await self._lead() else []
            except Exception:
                log.exception("rechecking down instances failed")
                down = []
        return max(0.5, next_round - loop.time())

    async def _service_rules(self) -> None:
        if not await self._lead():
            return
        await self.evaluate_service_rules()
        loop = asyncio.get_running_loop()
        if loop.time() - self._last_push >= REPUSH_SECONDS:
            self._last_push = loop.time()
            await self.repush_alertmanager()
        if loop.time() - self._last_prune >= PRUNE_SECONDS:
            self._last_prune = loop.time()
            await self.prune()

    async def _dispatch(self) -> float | None:
        """Send what is due; alert changes in this process wake it at once, retries are due
        >= 5 s later. A full batch goes on at once."""
        sent = await self.dispatcher.send_due() if await self._lead() else 0
        return 0.0 if sent >= self.dispatcher.batch else None

    def wake_dispatch(self) -> None:
        """Something was queued (an instance event): send it now rather than at the next poll."""
        self._wake_dispatch.set()

    # -- one step each (tests and benchmarks call these directly) -------------------------
    async def collect_round(self) -> Round:
        current = await self.collector.collect_once()
        self.round_seconds.append(current.seconds)
        self._round_hist.observe(current.seconds)
        self._round_instances.set(len(current.states))
        await reconcile(self.pool, current, max_attempts=self.settings.max_attempts)
        enabled = await rules_repo.list_all(self.pool, enabled_only=True)
        instance_rules, host_rules = rules_of(enabled, "instance"), rules_of(enabled, "host")
        findings = {r.id: check_instances(r, current.states) for r in instance_rules}
        findings |= {r.id: check_hosts(r, list(current.hosts.values())) for r in host_rules}
        rules = instance_rules + host_rules
        async with self._evaluating:
            changes = await self.evaluator.evaluate(rules, findings, datetime.now(UTC))
        if changes:
            self._wake_dispatch.set()
        return current

    async def recheck(self, ids: list[str]) -> list[str]:
        """Probe the instances found down again and evaluate the instance_down rules for them
        alone; the ids still down."""
        states = await self.collector.recheck(ids)
        enabled = await rules_repo.list_all(self.pool, enabled_only=True)
        rules = [r for r in rules_of(enabled, "instance") if r.condition == "instance_down"]
        findings = {r.id: check_instances(r, states) for r in rules}
        async with self._evaluating:
            changes = await self.evaluator.evaluate(
                rules, findings, datetime.now(UTC), instances={s.id for s in states}
            )
        if changes:
            self._wake_dispatch.set()
        return [s.id for s in states if not s.sample.up]

    async def evaluate_service_rules(self) -> None:
        enabled = await rules_repo.list_all(self.pool, enabled_only=True)
        rules = rules_of(enabled, "service")
        findings: dict[int, list[Finding]] = {}
        for rule in rules:
            findings[rule.id] = await check_service(rule, self.pool)
        async with self._evaluating:
            now = datetime.now(UTC)
            changes = await self.evaluator.evaluate(rules, findings, now)
            round_rules = rules_of(enabled, "instance") + rules_of(enabled, "host")
            changes += await self.evaluator.retire(round_rules + rules, now)
        if changes:
            self._wake_dispatch.set()

    async def repush_alertmanager(self) -> None:
        if not self.settings.alertmanager_url:
            return
        firing = [
            a for a in await alerts_repo.open_alerts(self.pool) if a.status in ("firing", "acknowledged")
        ]
        await self.notifier.repush(self.pool, firing, datetime.now(UTC))
        self._wake_dispatch.set()

    async def prune(self) -> None:
        before = datetime.now(UTC) - timedelta(days=self.settings.retention_days)
        removed = await retention.prune(self.pool, before)
        if any(removed.values()):
            log.info(
                "retention (%d days): removed %s",
                self.settings.retention_days,
                ", ".join(f"{n} {t}" for t, n in removed.items() if n),
            )
