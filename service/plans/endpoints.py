"""/api/v1/plans: the plans offered per engine (service/plans/plans.yml) and an admin's switch of
their availability for new instances."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ..engines import Restart, get_engine
from ..web.body import read_json
from ..web.contract import contract, respond
from ..web.identity import require_admin
from ..web.schemas import parse
from .schemas import PlanAvailabilityRequest, PlanList, PlanView
from .service import Plan, PlanService

SERVICE = web.AppKey("plans", PlanService)
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
        "restart_required": {
            name: engine.restart_rule(name) is not Restart.NEVER
            for name in engine.settings_model.model_fields
        },
    }


@routes.get("/api/v1/plans")
@contract(
    "The plans per engine",
    description="Create with `plan` and the settings come from it; `settings` may then hold only the"
    " plan's `settable` keys, within their bounds (422 naming the field otherwise). Quotas and"
    " placement count the plan's memory.",
    responses={200: PlanList},
)
async def list_plans(request: web.Request) -> web.Response:
    found = await request.app[SERVICE].availability()
    return respond(PlanList, {"items": [plan_view(plan, available) for plan, available in found]})


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
    svc = request.app[SERVICE]
    admin = require_admin(request)
    plan = svc.plan(request.match_info["engine"], request.match_info["name"])
    body = parse(PlanAvailabilityRequest, await read_json(request))
    await svc.set_available(plan, body.available, admin)
    return respond(PlanView, plan_view(plan, body.available))
