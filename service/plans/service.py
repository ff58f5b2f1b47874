"""The plans domain's entry point: the catalog (plans.yml) and which plans are open to new
instances, for the plan routes, the instances domain (a create or a move on a plan) and the
broker's catalog."""

from __future__ import annotations

from ..context import Context
from ..db import plans as plans_repo
from ..db.users import User
from ..engines import ENGINES
from ..errors import FieldError, NotFound, SettingsError
from .catalog import Plan, PlanCatalog, ServiceOffering, create_settings

__all__ = ["Plan", "PlanCatalog", "PlanService", "ServiceOffering", "create_settings"]


class PlanService:
    def __init__(self, ctx: Context, catalog: PlanCatalog) -> None:
        self.ctx = ctx
        self.catalog = catalog

    def get(self, engine: str, name: str) -> Plan | None:
        return self.catalog.get(engine, name)

    async def is_available(self, plan: Plan) -> bool:
        """Open to new instances: an admin's switch, else plans.yml's `available`."""
        override = await plans_repo.override(self.ctx.reads, plan.engine, plan.name)
        return plan.available if override is None else override

    async def offered(self, engine: str, name: str) -> Plan:
        """The plan a create (or a move) asks for: SettingsError naming `plan` when it is
        unknown or closed to new instances."""
        plan = self.catalog.plan_of(engine, name)
        if not await self.is_available(plan):
            raise SettingsError(
                [FieldError("plan", f"{engine} plan {name!r} is not available for new instances")]
            )
        return plan

    async def availability(self) -> list[tuple[Plan, bool]]:
        """Every plan, with whether it takes new instances now."""
        overrides = await plans_repo.overrides(self.ctx.reads)
        return [(p, overrides.get((p.engine, p.name), p.available)) for p in self.catalog.plans]

    async def open_plans(self) -> set[tuple[str, str]]:
        return {(p.engine, p.name) for p, available in await self.availability() if available}

    def plan(self, engine: str, name: str) -> Plan:
        """NotFound("plan") unless the catalog has it."""
        plan = self.catalog.get(engine, name) if engine in ENGINES else None
        if plan is None:
            raise NotFound("plan")
        return plan

    async def set_available(self, plan: Plan, available: bool, admin: User) -> None:
        """An admin opens or closes a plan to new instances."""
        async with self.ctx.pool.acquire() as conn:
            await plans_repo.set_available(conn, plan.engine, plan.name, available, admin.id)
