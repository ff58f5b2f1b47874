"""The monitoring domain's entry point (MonitoringService), for its REST routes: alerts and
their acknowledgement, alert rules, webhooks, an instance's samples and the Prometheus
exposition. The instances domain reads an instance's health through the functions this
module exports (health_view, health_holds_for, the Health shape)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry

from ..context import Context
from ..db import alerts as alerts_repo
from ..db import instances
from ..db import rules as rules_repo
from ..db import samples as samples_repo
from ..db import webhooks as webhooks_repo
from ..engines import get_engine
from ..errors import Conflict, FieldError, Invalid, NotFound, QuotaExceeded
from . import exposition, signing
from .egress import EgressPolicy, EgressRefused
from .health import health_holds_for, health_of, stale_after
from .payloads import test_payload
from .rules import rule_values
from .schemas import Health
from .views import health_as_view

if TYPE_CHECKING:
    from ..db.alerts import Alert
    from ..db.instances import Instance
    from ..db.rules import Rule
    from ..db.samples import Sample
    from ..db.users import User
    from ..db.webhooks import Webhook
    from .requests import RuleFields

__all__ = ["Health", "MonitoringService", "health_holds_for", "health_view", "stale_after"]


def health_view(
    sample: Sample | None,
    open_alerts: list[Alert],
    collect_interval: float,
    *,
    status: str = "running",
    changed_at: datetime | None = None,
) -> dict[str, Any]:
    """An instance's health as its detail shows it: the latest sample (stale when older than
    a few collection rounds) and its open alerts; not_running unless the instance runs."""
    found = health_of(
        sample, open_alerts, collect_interval=collect_interval, status=status, changed_at=changed_at
    )
    return health_as_view(found)


@dataclass(frozen=True)
class NewWebhook:
    webhook: Webhook
    secret: str  # the signing secret, shown once


class MonitoringService:
    def __init__(
        self,
        ctx: Context,
        *,
        egress: EgressPolicy,
        registry: CollectorRegistry,
        exposition_parts: Sequence[Callable[[], Awaitable[bytes]]] = (),
    ) -> None:
        self.ctx = ctx
        self.egress = egress  # which URLs may be registered as webhooks
        self.registry = registry  # the gateway's and the collector's metrics of this process
        # More of /metrics from other parts (the warm pool, the view cache): each gives bytes.
        self.exposition_parts = list(exposition_parts)
        # Wakes this process's delivery sender (the runtime sets it once one runs).
        self.wake_deliveries: Callable[[], None] = lambda: None

    # -- alerts ---------------------------------------------------------------------------
    async def alerts(
        self,
        *,
        owner_id: int | None,
        instance_id: str | None,
        status: str | None,
        rule: str | None,
        limit: int,
    ) -> list[Alert]:
        return await alerts_repo.page(
            self.ctx.pool, owner_id=owner_id, instance_id=instance_id, status=status, rule=rule, limit=limit
        )

    async def alert(self, alert_id: int, *, owner_id: int | None) -> tuple[Alert, list[dict[str, Any]]]:
        """The alert with its history; NotFound("alert") for another owner's."""
        alert = await alerts_repo.get_visible(self.ctx.pool, alert_id, owner_id)
        if alert is None:
            raise NotFound("alert")
        return alert, await self._history(alert)

    async def acknowledge(
        self, alert_id: int, user: User, comment: str | None, *, owner_id: int | None
    ) -> tuple[Alert, list[dict[str, Any]]]:
        """Conflict unless the alert is firing."""
        async with self.ctx.pool.acquire() as conn, conn.transaction():
            alert, status = await alerts_repo.acknowledge(
                conn, alert_id, by=user.username, comment=comment, owner_id=owner_id
            )
        if alert is None and status is None:
            raise NotFound("alert")
        if alert is None:
            raise Conflict(f"only a firing alert can be acknowledged; this one is {status}")
        return alert, await self._history(alert)

    async def _history(self, alert: Alert) -> list[dict[str, Any]]:
        return (await alerts_repo.history(self.ctx.pool, [alert.id])).get(alert.id, [])

    # -- rules ----------------------------------------------------------------------------
    async def rules(self) -> list[Rule]:
        return await rules_repo.list_all(self.ctx.pool)

    async def rule(self, name: str) -> Rule:
        rule = await rules_repo.get(self.ctx.pool, name)
        if rule is None:
            raise NotFound("rule")
        return rule

    async def create_rule(self, name: str, fields: RuleFields) -> Rule:
        rule = await rules_repo.create(self.ctx.pool, name, rule_values(fields, None))
        if rule is None:
            raise Conflict(f"a rule named {name!r} exists", details=[FieldError("name", "is taken")])
        return rule

    async def update_rule(self, name: str, fields: RuleFields) -> Rule:
        rule = await self.rule(name)
        updated = await rules_repo.update(self.ctx.pool, rule.name, rule_values(fields, rule))
        if updated is None:
            raise NotFound("rule")
        return updated

    async def delete_rule(self, name: str) -> None:
        rule = await self.rule(name)
        if rule.builtin:
            raise Conflict('built-in rules cannot be deleted; PATCH {"enabled": false} turns one off')
        await rules_repo.delete(self.ctx.pool, rule.name)

    # -- webhooks -------------------------------------------------------------------------
    async def create_webhook(
        self, user: User, url: str, *, send_resolved: bool, events: Sequence[str]
    ) -> NewWebhook:
        """A webhook of the user's: its URL must pass the egress policy (422 naming `url`),
        and the user may have DBVEND_WEBHOOK_LIMIT of them (403 quota_exceeded)."""
        try:
            await self.egress.check(url)
        except EgressRefused as exc:
            raise Invalid([FieldError("url", str(exc))]) from None
        limit = self.ctx.settings.webhook_limit
        secret = signing.new_secret()
        hook = await webhooks_repo.create_within(
            self.ctx.pool,
            user.id,
            url,
            send_resolved,
            limit=limit,
            events=list(events),
            secret=self.ctx.box.seal({"secret": secret}),
        )
        if hook is None:
            raise QuotaExceeded(
                f"quota exceeded: at most {limit} webhooks per user",
                details=[FieldError("webhooks", f"limit of {limit} reached; delete one first")],
            )
        return NewWebhook(hook, secret)

    async def webhooks(self, user: User) -> list[Webhook]:
        return await webhooks_repo.list_for(self.ctx.pool, user.id)

    async def webhook(self, user: User, webhook_id: int) -> tuple[Webhook, list[dict[str, Any]]]:
        """One of the user's webhooks with its recent deliveries."""
        hook = next((h for h in await self.webhooks(user) if h.id == webhook_id), None)
        if hook is None:
            raise NotFound("webhook")
        return hook, await webhooks_repo.recent_for(self.ctx.pool, hook.id)

    async def test_webhook(self, user: User, webhook_id: int) -> int:
        """Queue one test delivery to one of the user's webhooks (tried once, signed like the
        rest) and wake the sender; the delivery's id."""
        hook, _ = await self.webhook(user, webhook_id)
        settings = self.ctx.settings
        external = f"http://{settings.listen_host}:{settings.listen_port}"  # as the Monitor's notifier says
        payload = test_payload(hook.id, user.username, datetime.now(UTC), external)
        delivery_id = await webhooks_repo.queue_one(self.ctx.pool, hook.id, hook.url, payload, max_attempts=1)
        self.wake_deliveries()
        return delivery_id

    async def delete_webhook(self, user: User, webhook_id: int) -> None:
        if not await webhooks_repo.delete(self.ctx.pool, webhook_id, user.id):
            raise NotFound("webhook")

    # -- samples and /metrics -------------------------------------------------------------
    async def instance(self, instance_id: str, *, owner_id: int | None) -> Instance:
        inst = await instances.get(self.ctx.pool, instance_id, owner_id=owner_id)
        if inst is None:
            raise NotFound("instance")
        return inst

    async def samples(self, inst: Instance, *, since: int, limit: int) -> list[Sample]:
        return await samples_repo.recent(self.ctx.pool, inst.id, since_seconds=since, limit=limit)

    async def history(self, inst: Instance, *, since: int, step: int) -> list[dict[str, Any]]:
        """The instance's samples in buckets of `step` seconds over the last `since` (oldest first)."""
        engine = get_engine(inst.engine)
        return await samples_repo.history(
            self.ctx.reads,
            inst.id,
            since_seconds=since,
            step_seconds=step,
            engine_memory=engine.memory_metrics,
            connection_limit=engine.connection_limit_metric,
        )

    async def exposition(self) -> bytes:
        """/metrics: this process's registry, what the store says now, and the other parts."""
        body = await exposition.render(
            self.ctx.pool,
            self.registry,
            max_age_seconds=stale_after(self.ctx.settings.collect_interval or 15.0),
        )
        for part in self.exposition_parts:
            body += await part()
        return body
