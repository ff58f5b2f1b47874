"""/api/v1/instances/{id}: the day-2 actions (stop, start, restart, a settings change, a
password rotation). Each records an operation (provisioning/actions.py) and answers 202
with it, or with ?wait=N the instance once the operation succeeded (200). Owner-filtered:
another user's instance is 404."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import BaseModel

from ..db import instances, operations
from ..db.users import User
from ..errors import FieldError, Invalid, NotFound
from ..operations import actions
from ..operations.actions import ActionAccepted
from .account_views import quota_defaults
from .auth import current_user, owner_filter
from .context import Services, services
from .contract import contract, respond
from .errors import read_json
from .instances import wait_seconds
from .models import (
    ActionOperation,
    ActionResult,
    ReconfigureOperation,
    ReconfigureResult,
    RotateOperation,
    RotateResult,
)
from .plans import offered_plan
from .queries import WaitQuery
from .schemas import ReconfigureRequest, RotateRequest, parse
from .views import instance_view, operation_view

routes = web.RouteTableDef()

_ID = {"id": "instance id"}
_ACTIONS = (
    "409 conflict when the instance is not in a status the action needs (the message names it)"
    " or another operation on it is open; another user's instance is 404."
)


async def _answer(
    svc: Services,
    accepted: ActionAccepted,
    wait: int,
    *,
    done: type[BaseModel],
    pending: type[BaseModel],
    extra: dict[str, Any],
) -> web.Response:
    """200 with the instance when nothing was needed or the operation succeeded within
    `wait`; else 202 with the operation."""
    headers = {"Location": f"/api/v1/instances/{accepted.instance_id}"}
    op = None
    if accepted.operation_id is not None:
        headers["Operation-Location"] = f"/api/v1/operations/{accepted.operation_id}"
        op = await svc.waiter.wait(accepted.operation_id, wait) if wait else None
        if op is None or op.status != "succeeded":
            op = op or await operations.get(svc.pool, accepted.operation_id)
            assert op is not None
            return respond(pending, {**operation_view(op), **extra}, status=202, headers=headers)
    inst = await instances.get(svc.pool, accepted.instance_id)
    if inst is None:
        raise NotFound("instance")
    body = {**instance_view(inst, svc.box), "operation_id": accepted.operation_id, **extra}
    return respond(done, body, status=200, headers=headers)


async def _simple(request: web.Request, kind: str) -> web.Response:
    svc = services(request)
    user = current_user(request)
    wait = wait_seconds(request, svc)
    accepted = await actions.request_action(
        svc.pool,
        request.match_info["id"],
        user,
        kind,
        owner_id=owner_filter(user),
        max_attempts=svc.settings.max_attempts,
    )
    if accepted is None:
        raise NotFound("instance")
    return await _answer(svc, accepted, wait, done=ActionResult, pending=ActionOperation, extra={})


@routes.post("/api/v1/instances/{id}/stop")
@contract(
    "Stop the instance; its port, data and credentials are kept",
    description="The container is stopped gracefully and the instance becomes `stopped`; its memory no"
    " longer counts on the host. Stopping a stopped instance answers 200 and records nothing. " + _ACTIONS,
    path=_ID,
    query=WaitQuery,
    responses={200: ActionResult, 202: ActionOperation},
    errors=(409,),
)
async def stop_instance(request: web.Request) -> web.Response:
    return await _simple(request, "stop")


@routes.post("/api/v1/instances/{id}/start")
@contract(
    "Start a stopped instance: same port, data and credentials",
    description="The host's capacity is checked again: 409 no_capacity when the memory the instance"
    " needs was taken while it was stopped. Starting a running instance answers 200 and records"
    " nothing. " + _ACTIONS,
    path=_ID,
    query=WaitQuery,
    responses={200: ActionResult, 202: ActionOperation},
    errors=(409,),
)
async def start_instance(request: web.Request) -> web.Response:
    return await _simple(request, "start")


@routes.post("/api/v1/instances/{id}/restart")
@contract(
    "Restart a running instance's server (one restart)",
    description=_ACTIONS,
    path=_ID,
    query=WaitQuery,
    responses={200: ActionResult, 202: ActionOperation},
    errors=(409,),
)
async def restart_instance(request: web.Request) -> web.Response:
    return await _simple(request, "restart")


def _summary(accepted: ActionAccepted) -> dict[str, Any]:
    change = accepted.change
    if change is None:  # a backup schedule alone
        return {"changes": {"live": [], "restart": [], "convert": False}}
    return {
        "changes": {"live": list(change.live), "restart": list(change.restart), "convert": change.convert}
    }


def _policy(body: ReconfigureRequest) -> dict[str, Any] | actions.Keep | None:
    if "backup_policy" not in body.model_fields_set:
        return actions.KEEP
    return body.backup_policy.model_dump() if body.backup_policy is not None else None


async def _move(
    svc: Services, instance_id: str, user: User, body: ReconfigureRequest
) -> actions.PlanMove | actions.Keep:
    """The plan a PATCH moves to: KEEP without `plan`; a plan of the instance's engine that is
    open to new instances (422 naming `plan` otherwise); None to leave plans for custom settings."""
    if "plan" not in body.model_fields_set:
        return actions.KEEP
    if body.plan is None:
        return actions.PlanMove(None)
    inst = await instances.get(svc.reads, instance_id, owner_id=owner_filter(user))
    if inst is None:
        raise NotFound("instance")
    if inst.plan == body.plan:
        return actions.PlanMove(svc.plans.get(inst.engine, body.plan))  # staying: no availability check
    return actions.PlanMove(await offered_plan(svc, inst.engine, body.plan))


@routes.patch("/api/v1/instances/{id}")
@contract(
    "Change a running instance's settings and/or its backup schedule",
    description="`backup_policy` (`{interval_hours: 1..720, keep: 1..100}`, or null to switch it off)"
    " alone records no operation and answers 200 with the instance; with `settings` both apply."
    " Settings are validated as a create's (422 naming the field; unknown keys rejected);"
    " the answer's `changes` says which settings are applied live and which by one restart."
    " With `plan` the instance moves to that plan of its engine (the plan's settings replace the"
    " ones the old plan fixed; settable ones keep their values); on a plan only its settable keys"
    " may be changed, within their bounds (422 naming the field)."
    " Changing the database charset/collation needs `convert: true`. A bigger size re-checks the"
    " quota (403 quota_exceeded) and the host's capacity (409 no_capacity); nothing is recorded"
    " when a check fails, nor when nothing changes (200). " + _ACTIONS,
    path=_ID,
    query=WaitQuery,
    request=ReconfigureRequest,
    responses={200: ReconfigureResult, 202: ReconfigureOperation},
    errors=(403, 409),
)
async def reconfigure_instance(request: web.Request) -> web.Response:
    svc = services(request)
    user = current_user(request)
    wait = wait_seconds(request, svc)
    body = parse(ReconfigureRequest, await read_json(request))
    policy = _policy(body)
    move = await _move(svc, request.match_info["id"], user, body)
    if body.settings is None and isinstance(policy, actions.Keep) and isinstance(move, actions.Keep):
        raise Invalid([FieldError("settings", "give settings, plan, backup_policy or a mix")])
    accepted = await actions.request_reconfigure(
        svc.pool,
        request.match_info["id"],
        user,
        body.settings,
        convert=body.convert,
        owner_id=owner_filter(user),
        max_attempts=svc.settings.max_attempts,
        quotas=quota_defaults(svc.settings),
        backup_policy=policy,
        plans=svc.plans,
        move=move,
    )
    if accepted is None:
        raise NotFound("instance")
    return await _answer(
        svc, accepted, wait, done=ReconfigureResult, pending=ReconfigureOperation, extra=_summary(accepted)
    )


@routes.post("/api/v1/instances/{id}/rotate-password")
@contract(
    "Give the application account a new password",
    description="The new password is in this answer only (operations never show it); GET"
    " /instances/{id} shows it once the rotation has succeeded, and the old one stops working then."
    " Redis may keep the old one valid for `grace_seconds` (up to 86400); MariaDB has no dual"
    " passwords (422 naming grace_seconds). " + _ACTIONS,
    path=_ID,
    query=WaitQuery,
    request=RotateRequest,
    responses={200: RotateResult, 202: RotateOperation},
    errors=(409,),
)
async def rotate_password(request: web.Request) -> web.Response:
    svc = services(request)
    user = current_user(request)
    wait = wait_seconds(request, svc)
    body = parse(RotateRequest, await read_json(request))
    accepted = await actions.request_rotate(
        svc.pool,
        svc.box,
        request.match_info["id"],
        user,
        grace_seconds=body.grace_seconds,
        owner_id=owner_filter(user),
        max_attempts=svc.settings.max_attempts,
    )
    if accepted is None:
        raise NotFound("instance")
    extra = {"password": accepted.password, "grace_seconds": accepted.grace_seconds}
    return await _answer(svc, accepted, wait, done=RotateResult, pending=RotateOperation, extra=extra)
