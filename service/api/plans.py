"""/api/v1/plans: the plans offered per engine (service/plans/plans.yml) and an admin's switch of
their availability for new instances; also how a create or a plan change picks its plan."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

from ..db import plans as plans_repo
from ..engines import ENGINES, get_engine
from ..errors import FieldError, NotFound, SettingsError
from ..plans import Plan
from .auth import require_admin
from .context import Services, services
from .contract import contract, respond
from .errors import read_json
from .models import PlanList, PlanView
from .schemas import PlanAvailabilityRequest, parse

if TYPE_CHECKING:
    from ..db import Executor

routes = web.RouteTableDef()
_PLAN = {"engine": "engine name (mysql or redis)", "name": "plan name"}


def plan_view(plan: Plan, available: bool) -> dict[str, Any]:
    engine = get_engine(plan.engine)
    return {
        "id": plan.id,
        "engine": plan.engine,
        "name": plan.name,
        "description": plan.description,
        "available": available,
        "memory_mb": plan.memory_mb,
        # Validated but not completed: what derives from the instance (its database name, the
        # charset's default collation) stays null here.
        "settings": engine.settings_model.model_validate(dict(plan.settings)).model_dump(mode="json"),
        "settable": {key: dict(bounds) for key, bounds in plan.settable.items()},
        "parameters_schema": plan.parameters_schema(),
    }


async def is_available(db: Executor, plan: Plan) -> bool:
    override = await plans_repo.override(db, plan.engine, plan.name)
    return plan.available if override is None else override


async def offered_plan(svc: Services, engine: str, name: str) -> Plan:
    """The plan a create (or a move) asks for: 422 naming `plan` when it is unknown or an admin
    (or plans.yml) has closed it to new instances."""
    plan = svc.plans.plan_of(engine, name)
    if not await is_available(svc.reads, plan):
        raise SettingsError(
            [FieldError("plan", f"{engine} plan {name!r} is not available for new instances")]
        )
    return plan


@routes.get("/api/v1/plans")
@contract(
    "The plans per engine",
    description="Create with `plan` and the settings come from it; `settings` may then hold only the"
    " plan's `settable` keys, within their bounds (422 naming the field otherwise). Quotas and"
    " placement count the plan's memory.",
    responses={200: PlanList},
)
async def list_plans(request: web.Request) -> web.Response:
    svc = services(request)
    overrides = await plans_repo.overrides(svc.reads)
    items = [
        plan_view(plan, overrides.get((plan.engine, plan.name), plan.available)) for plan in svc.plans.plans
    ]
    return respond(PlanList, {"items": items})


@routes.patch("/api/v1/plans/{engine}/{name}")
@contract(
    "Open or close a plan to new instances (admin)",
    description="Instances already on a closed plan keep running and may still be changed within it;"
    " new creates and moves to it are refused (422 naming `plan`).",
    path=_PLAN,
    request=PlanAvailabilityRequest,
    responses={200: PlanView},
    errors=(403,),
)
async def set_plan_availability(request: web.Request) -> web.Response:
    svc = services(request)
    admin = require_admin(request)
    engine, name = request.match_info["engine"], request.match_info["name"]
    plan = svc.plans.get(engine, name) if engine in ENGINES else None
    if plan is None:
        raise NotFound("plan")
    body = parse(PlanAvailabilityRequest, await read_json(request))
    async with svc.pool.acquire() as conn:
        await plans_repo.set_available(conn, engine, name, body.available, admin.id)
    return respond(PlanView, plan_view(plan, body.available))
