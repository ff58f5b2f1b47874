"""/api/v1/rules (admin): the alert rules. Built-in rules can be edited and disabled but
not deleted; new rules pick a condition from the fixed set (service/monitoring/conditions.py)."""

from __future__ import annotations

from aiohttp import web

from ..web.body import read_json
from ..web.contract import contract, respond
from ..web.identity import require_admin
from ..web.schemas import parse
from .alert_endpoints import monitoring
from .requests import CreateRuleRequest, UpdateRuleRequest
from .schemas import Rule as RuleOut
from .schemas import RuleList
from .views import rule_view

routes = web.RouteTableDef()
_NAME = {"name": "rule name"}


@routes.get("/api/v1/rules")
@contract("Alert rules (admin)", admin=True, responses={200: RuleList})
async def list_rules(request: web.Request) -> web.Response:
    require_admin(request)
    return respond(RuleList, {"items": [rule_view(r) for r in await monitoring(request).rules()]})


@routes.post("/api/v1/rules")
@contract(
    "Add a rule (admin): a condition from the fixed set, its threshold and params",
    admin=True,
    request=CreateRuleRequest,
    responses={201: RuleOut},
    errors=(409,),
)
async def create_rule(request: web.Request) -> web.Response:
    require_admin(request)
    body = parse(CreateRuleRequest, await read_json(request))
    rule = await monitoring(request).create_rule(body.name, body)
    return respond(RuleOut, rule_view(rule), status=201, headers={"Location": f"/api/v1/rules/{rule.name}"})


@routes.get("/api/v1/rules/{name}")
@contract("One rule (admin)", admin=True, path=_NAME, responses={200: RuleOut})
async def get_rule(request: web.Request) -> web.Response:
    require_admin(request)
    return respond(RuleOut, rule_view(await monitoring(request).rule(request.match_info["name"])))


@routes.patch("/api/v1/rules/{name}")
@contract(
    "Change a rule (admin); only the fields sent change",
    admin=True,
    path=_NAME,
    request=UpdateRuleRequest,
    responses={200: RuleOut},
)
async def update_rule(request: web.Request) -> web.Response:
    require_admin(request)
    body = parse(UpdateRuleRequest, await read_json(request))
    return respond(
        RuleOut, rule_view(await monitoring(request).update_rule(request.match_info["name"], body))
    )


@routes.delete("/api/v1/rules/{name}")
@contract(
    "Delete a rule (admin); built-in rules can only be disabled",
    admin=True,
    path=_NAME,
    responses={204: None},
    errors=(409,),
)
async def delete_rule(request: web.Request) -> web.Response:
    require_admin(request)
    await monitoring(request).delete_rule(request.match_info["name"])
    return web.Response(status=204)
