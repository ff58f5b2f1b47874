"""The instances domain's one entry point, called by the REST routes (endpoints.py,
day2_endpoints.py) and the service broker alike: where an instance is created (from a warm
pool slot when one fits, else recorded for a worker), read, changed (stop, start, restart,
settings, plan, password, restore) and deleted.

Each request is checked and recorded in one transaction (intake.py, warm.py, day2.py);
a refusal raises a DomainError and records nothing."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from ..backups.service import BackupService
from ..context import Context, Service
from ..db import instances, operations
from ..db.instance_detail import get_with_health
from ..errors import NotFound
from ..monitoring.service import health_holds_for, health_view
from ..operations.quota import QuotaDefaults
from ..plans.service import Plan, PlanService
from . import certificates, day2, intake, warm
from .certificates import CertificateAccepted
from .day2 import KEEP, ActionAccepted, Keep, PlanMove, RestoreAccepted
from .intake import Accepted
from .view_cache import ViewCache
from .views import instance_view

if TYPE_CHECKING:
    from ..db.alerts import Alert
    from ..db.instances import Instance
    from ..db.operations import Operation
    from ..db.samples import Sample
    from ..db.users import User

__all__ = [
    "KEEP",
    "Accepted",
    "ActionAccepted",
    "CertificateAccepted",
    "InstanceService",
    "Keep",
    "PlanMove",
    "RestoreAccepted",
]


class InstanceService(Service):
    def __init__(self, ctx: Context, *, plans: PlanService, backups: BackupService, views: ViewCache) -> None:
        super().__init__(ctx)
        self.plans = plans
        self.backups = backups
        self.views = views  # rendered details and list pages of this process (view_cache.py)

    @property
    def quota_defaults(self) -> QuotaDefaults:
        return QuotaDefaults.of(self.ctx.settings)

    # -- create ---------------------------------------------------------------------------
    async def offered_plan(self, engine: str, name: str) -> Plan:
        """A plan a create or a move may ask for (SettingsError naming `plan` otherwise)."""
        return await self.plans.offered(engine, name)

    async def create(
        self,
        user: User,
        engine: str,
        name: str | None,
        settings: dict[str, Any] | None,
        *,
        plan: Plan | None = None,
        restore_from: str | None = None,
    ) -> Accepted:
        """The one place an instance is created. A warm pool slot answers at once (running);
        otherwise the instance, its port claim and its create operation are recorded for a
        worker. Refusals: SettingsError, QuotaExceeded, NoCapacity, Conflict (a name in use),
        NotFound/Conflict/SettingsError for `restore_from` (a clone)."""
        if restore_from is None:
            claimed = await self._from_pool(user, engine, name, settings, plan)
            if claimed is not None:
                return claimed
        return await intake.request_create(
            self.ctx.pool,
            self.ctx.box,
            user,
            engine,
            name,
            settings,
            max_attempts=self.ctx.settings.max_attempts,
            quotas=self.quota_defaults,
            restore_from=restore_from,
            plan=plan,
            defaults=self.create_defaults(engine),
        )

    def create_defaults(self, engine: str) -> dict[str, Any]:
        """The deployment's defaults under a create's settings: the TLS mode of
        DBVEND_TLS_DEFAULT (an unknown engine gets nothing; get_engine refuses it)."""
        mode = self.ctx.settings.tls.default.get(engine)
        return {"tls": mode} if mode is not None else {}

    async def _from_pool(
        self, user: User, engine: str, name: str | None, settings: dict[str, Any] | None, plan: Plan | None
    ) -> Accepted | None:
        """A running instance from a warm pool slot, or None: the cold path (never an error)."""
        if not self.ctx.settings.pool_enabled:
            return None
        ctx = warm.Claim(
            self.ctx.pool,
            self.ctx.box,
            self.ctx.hosts,
            self.ctx.settings.worker_id,
            self.quota_defaults,
            self.ctx.settings.max_attempts,
            self.create_defaults(engine),
        )
        return await warm.claim_create(ctx, user, engine, name, settings, plan)

    async def created_as(self, owner: User, name: str) -> Accepted | None:
        """The owner's live instance of this name and its create operation: what an earlier,
        interrupted request made."""
        found = await instances.created_as(self.ctx.pool, owner.id, name)
        return Accepted(*found) if found is not None else None

    # -- read -----------------------------------------------------------------------------
    async def get(self, instance_id: str, *, owner_id: int | None = None) -> Instance | None:
        return await instances.get(self.ctx.pool, instance_id, owner_id=owner_id)

    async def page(
        self,
        viewer: int | None,
        *,
        engine: str | None,
        status: str | None,
        limit: int,
        after: tuple[datetime, str] | None,
    ) -> list[Instance]:
        return await instances.page(
            self.ctx.reads, owner_id=viewer, engine=engine, status=status, limit=limit, after=after
        )

    async def detail(
        self, instance_id: str, viewer: int | None
    ) -> tuple[Instance, Sample | None, list[Alert]] | None:
        """The instance as its detail shows it: the row, its newest sample, its open alerts."""
        return await get_with_health(self.ctx.reads, instance_id, owner_id=viewer)

    def view(self, inst: Instance, health: tuple[Sample | None, list[Alert]] | None = None) -> dict[str, Any]:
        """The instance's JSON; with its newest sample and open alerts, its health too."""
        shown = None
        if health is not None:
            shown = health_view(
                *health, self.ctx.settings.collect_interval, status=inst.status, changed_at=inst.updated_at
            )
        return instance_view(inst, self.ctx.box, shown)

    def holds_for(self, sample: Sample | None) -> float:
        """Seconds a rendered detail stays true by time alone (its health turning stale)."""
        return health_holds_for(sample, collect_interval=self.ctx.settings.collect_interval)

    async def operation(self, operation_id: str, *, owner_id: int | None = None) -> Operation | None:
        return await operations.get(self.ctx.pool, operation_id, owner_id=owner_id)

    async def operations_of(
        self, instance_id: str, *, owner_id: int | None, limit: int, after: tuple[datetime, str] | None
    ) -> list[Operation]:
        """The caller's instance's operations, newest first; NotFound for another's."""
        inst = await instances.get(self.ctx.reads, instance_id, owner_id=owner_id)
        if inst is None:
            raise NotFound("instance")
        return await operations.page_of_instance(self.ctx.reads, inst.id, limit=limit, after=after)

    # -- delete ---------------------------------------------------------------------------
    async def delete(
        self, user: User, instance_id: str, *, owner_id: int | None, final_backup: bool
    ) -> str | None:
        """The delete's operation (the open one when it is deleting already); None when the
        caller has no such instance. With `final_backup` a backup is queued first (the
        worker runs an instance's operations oldest first, so it takes the data while it is
        there; the delete refuses to run unless it completed)."""
        final_backup_id = None
        if final_backup:
            accepted = await self.backups.request(user, instance_id, owner_id=owner_id, final=True)
            final_backup_id = accepted.backup_id
        return await intake.request_delete(
            self.ctx.pool,
            instance_id,
            user,
            owner_id=owner_id,
            max_attempts=self.ctx.settings.max_attempts,
            final_backup_id=final_backup_id,
        )

    # -- day-2 ----------------------------------------------------------------------------
    async def act(
        self, user: User, instance_id: str, kind: str, *, owner_id: int | None
    ) -> ActionAccepted | None:
        """stop, start or restart; None when the caller has no such instance."""
        return await day2.request_action(
            self.ctx.pool,
            instance_id,
            user,
            kind,
            owner_id=owner_id,
            max_attempts=self.ctx.settings.max_attempts,
        )

    async def reconfigure(
        self,
        user: User,
        instance_id: str,
        settings: dict[str, Any] | None,
        *,
        owner_id: int | None,
        convert: bool = False,
        backup_policy: dict[str, Any] | Keep | None = KEEP,
        move: PlanMove | Keep = KEEP,
    ) -> ActionAccepted | None:
        return await day2.request_reconfigure(
            self.ctx.pool,
            instance_id,
            user,
            settings,
            convert=convert,
            owner_id=owner_id,
            max_attempts=self.ctx.settings.max_attempts,
            quotas=self.quota_defaults,
            backup_policy=backup_policy,
            plans=self.plans.catalog,
            move=move,
        )

    async def plan_move(self, instance_id: str, plan: str | None, *, owner_id: int | None) -> PlanMove:
        """The plan a PATCH moves to: a plan of the instance's engine that is open to new
        instances (SettingsError naming `plan` otherwise), the plan it is on (no availability
        check: staying), or None to leave plans for custom settings."""
        if plan is None:
            return PlanMove(None)
        inst = await instances.get(self.ctx.reads, instance_id, owner_id=owner_id)
        if inst is None:
            raise NotFound("instance")
        if inst.plan == plan:
            return PlanMove(self.plans.get(inst.engine, plan))
        return PlanMove(await self.plans.offered(inst.engine, plan))

    async def rotate(
        self, user: User, instance_id: str, *, grace_seconds: int, owner_id: int | None
    ) -> ActionAccepted | None:
        return await day2.request_rotate(
            self.ctx.pool,
            self.ctx.box,
            instance_id,
            user,
            grace_seconds=grace_seconds,
            owner_id=owner_id,
            max_attempts=self.ctx.settings.max_attempts,
        )

    async def rotate_certificate(
        self, user: User, instance_id: str, *, owner_id: int | None
    ) -> CertificateAccepted | None:
        """A new TLS certificate, reloaded live; None when the caller has no such instance."""
        return await certificates.request_certificate(
            self.ctx.pool,
            instance_id,
            user,
            owner_id=owner_id,
            max_attempts=self.ctx.settings.max_attempts,
            reason=f"asked for by {user.username}",
        )

    async def restore(
        self, user: User, instance_id: str, backup_id: str, *, owner_id: int | None
    ) -> RestoreAccepted:
        return await day2.request_restore(
            self.ctx.pool,
            user,
            instance_id,
            backup_id,
            owner_id=owner_id,
            max_attempts=self.ctx.settings.max_attempts,
        )
