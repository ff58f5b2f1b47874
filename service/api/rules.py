"""/api/v1/rules (admin): the alert rules. Built-in rules can be edited and disabled but
not deleted; new rules pick a condition from the fixed set (service/monitoring/conditions.py)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ..db import rules as rules_repo
from ..db.rules import Rule
from ..errors import Conflict, FieldError, Invalid, NotFound
from ..monitoring.conditions import validate
from .auth import require_admin
from .context import services
from .contract import contract, respond
from .errors import read_json
from .monitoring_models import Rule as RuleOut
from .monitoring_models import RuleList
from .monitoring_schemas import CreateRuleRequest, RuleFields, UpdateRuleRequest
from .monitoring_views import rule_view
from .schemas import parse

routes = web.RouteTableDef()
_NAME = {"name": "rule name"}

# Fields a PATCH may leave out but may not clear (`threshold: null` does clear).
_NOT_NULL = (
    "condition",
    "for_seconds",
    "keep_firing_for",
    "severity",
    "enabled",
    "labels",
    "description",
    "params",
)
# body field -> column
_COLUMNS = {"for_seconds": "for_seconds", "keep_firing_for": "keep_firing_for_seconds"}


def _values(body: RuleFields, base: Rule | None) -> dict[str, Any]:
    """Columns to write: the fields sent, checked together with what the rule keeps."""
    sent = body.model_dump(exclude_unset=True)
    sent.pop("name", None)
    for key in _NOT_NULL:
        if key in sent and sent[key] is None:
            raise Invalid([FieldError("for" if key == "for_seconds" else key, "may not be null")])
    condition = sent.get("condition", base.condition if base else None)
    threshold = sent.get("threshold", base.threshold if base else None)
    params = sent.get("params", base.params if base else {})
    if base is not None and "condition" in sent and sent["condition"] != base.condition:
        # Another condition: the old threshold and params mean something else there.
        threshold = sent.get("threshold")
        params = sent.get("params", {})
    assert condition is not None
    threshold, params, errors = validate(condition, threshold, params or {})
    if errors:
        raise Invalid(errors)
    values = {_COLUMNS.get(k, k): v for k, v in sent.items()}
    values.update(condition=condition, threshold=threshold, params=params)
    return values


@routes.get("/api/v1/rules")
@contract("Alert rules (admin)", admin=True, responses={200: RuleList})
async def list_rules(request: web.Request) -> web.Response:
    require_admin(request)
    return respond(
        RuleList, {"items": [rule_view(r) for r in await rules_repo.list_all(services(request).pool)]}
    )


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
    svc = services(request)
    body = parse(CreateRuleRequest, await read_json(request))
    rule = await rules_repo.create(svc.pool, body.name, _values(body, None))
    if rule is None:
        raise Conflict(f"a rule named {body.name!r} exists", details=[FieldError("name", "is taken")])
    return respond(RuleOut, rule_view(rule), status=201, headers={"Location": f"/api/v1/rules/{rule.name}"})


@routes.get("/api/v1/rules/{name}")
@contract("One rule (admin)", admin=True, path=_NAME, responses={200: RuleOut})
async def get_rule(request: web.Request) -> web.Response:
    require_admin(request)
    rule = await rules_repo.get(services(request).pool, request.match_info["name"])
    if rule is None:
        raise NotFound("rule")
    return respond(RuleOut, rule_view(rule))


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
    svc = services(request)
    body = parse(UpdateRuleRequest, await read_json(request))
    rule = await rules_repo.get(svc.pool, request.match_info["name"])
    if rule is None:
        raise NotFound("rule")
    updated = await rules_repo.update(svc.pool, rule.name, _values(body, rule))
    if updated is None:
        raise NotFound("rule")
    return respond(RuleOut, rule_view(updated))


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
    svc = services(request)
    rule = await rules_repo.get(svc.pool, request.match_info["name"])
    if rule is None:
        raise NotFound("rule")
    if rule.builtin:
        raise Conflict('built-in rules cannot be deleted; PATCH {"enabled": false} turns one off')
    await rules_repo.delete(svc.pool, rule.name)
    return web.Response(status=204)
