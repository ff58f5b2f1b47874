"""/api/v1/instances/{id}: the day-2 actions (stop, start, restart, a settings change, a
password rotation, a restore). Each records an operation (the InstanceService, day2.py) and
answers 202 with it, or with ?wait=N the instance once the operation succeeded (200).
Owner-filtered: another user's instance is 404."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import BaseModel

from ..errors import FieldError, Invalid, NotFound
from ..web.body import read_json
from ..web.contract import contract, respond
from ..web.identity import current_user, owner_filter
from ..web.operations import operation_view
from ..web.queries import WaitQuery
from ..web.schemas import parse
from .endpoints import instances, wait_of
from .requests import ReconfigureRequest, RestoreRequest, RotateRequest
from .schemas import (
    ActionOperation,
    ActionResult,
    ReconfigureOperation,
    ReconfigureResult,
    RestoreOperation,
    RestoreResult,
    RotateOperation,
    RotateResult,
)
from .service import KEEP, ActionAccepted, InstanceService, Keep, PlanMove

routes = web.RouteTableDef()

_ID = {"id": "instance id"}
_ACTIONS = (
    "409 conflict when the instance is not in a status the action needs (the message names it)"
    " or another operation on it is open; another user's instance is 404."
)


async def _answer(
    svc: InstanceService,
    instance_id: str,
    operation_id: str | None,
    wait: int,
    *,
    done: type[BaseModel],
    pending: type[BaseModel],
    extra: dict[str, Any],
) -> web.Response:
    """200 with the instance when nothing was needed or the operation succeeded within
    `wait`; else 202 with the operation."""
    headers = {"Location": f"/api/v1/instances/{instance_id}"}
    if operation_id is not None:
        headers["Operation-Location"] = f"/api/v1/operations/{operation_id}"
        op = await svc.operation_after(operation_id, wait)
        if not wait or op.status != "succeeded":
            return respond(pending, {**operation_view(op), **extra}, status=202, headers=headers)
    inst = await svc.get(instance_id)
    if inst is None:
        raise NotFound("instance")
    body = {**svc.view(inst), "operation_id": operation_id, **extra}
    return respond(done, body, status=200, headers=headers)


async def _simple(request: web.Request, kind: str) -> web.Response:
    svc = instances(request)
    user = current_user(request)
    wait = wait_of(request)
    accepted = await svc.act(user, request.match_info["id"], kind, owner_id=owner_filter(user))
    if accepted is None:
        raise NotFound("instance")
    return await _answer(
        svc,
        accepted.instance_id,
        accepted.operation_id,
        wait,
        done=ActionResult,
        pending=ActionOperation,
        extra={},
    )


# stop, start, restart: the same route but for what it says of itself.
_LIFECYCLE = {
    "stop": (
        "Stop the instance; its port, data and credentials are kept",
        "The container is stopped gracefully and the instance becomes `stopped`; its memory no"
        " longer counts on the host. Stopping a stopped instance answers 200 and records nothing. "
        + _ACTIONS,
    ),
    "start": (
        "Start a stopped instance: same port, data and credentials",
        "The host's capacity is checked again: 409 no_capacity when the memory the instance"
        " needs was taken while it was stopped. Starting a running instance answers 200 and records"
        " nothing. " + _ACTIONS,
    ),
    "restart": ("Restart a running instance's server (one restart)", _ACTIONS),
}


def _lifecycle_route(kind: str, summary: str, description: str) -> None:
    async def handler(request: web.Request) -> web.Response:
        return await _simple(request, kind)

    handler.__name__ = f"{kind}_instance"
    declared = contract(
        summary,
        description=description,
        path=_ID,
        query=WaitQuery,
        responses={200: ActionResult, 202: ActionOperation},
        errors=(409,),
    )
    routes.post(f"/api/v1/instances/{{id}}/{kind}")(declared(handler))


for _kind, (_summary_text, _description) in _LIFECYCLE.items():
    _lifecycle_route(_kind, _summary_text, _description)


def _summary(accepted: ActionAccepted) -> dict[str, Any]:
    change = accepted.change
    if change is None:  # a backup schedule alone
        return {"changes": {"live": [], "restart": [], "convert": False}, "restart_required": False}
    return {
        "changes": {"live": list(change.live), "restart": list(change.restart), "convert": change.convert},
        "restart_required": bool(change.restart),
    }


def _policy(body: ReconfigureRequest) -> dict[str, Any] | Keep | None:
    if "backup_policy" not in body.model_fields_set:
        return KEEP
    return body.backup_policy.model_dump() if body.backup_policy is not None else None


@routes.patch("/api/v1/instances/{id}")
@contract(
    "Change a running instance's settings and/or its backup schedule",
    description="`backup_policy` (`{interval_hours: 1..720, keep: 1..100}`, or null to switch it off)"
    " alone records no operation and answers 200 with the instance; with `settings` both apply."
    " Settings are validated as a create's (422 naming the field; unknown keys rejected);"
    " the answer's `changes` says which settings are applied live and which by one restart, and"
    " `restart_required` whether the server restarts (the settings schemas say so beforehand:"
    " x-restart-required, x-restart-when)."
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
    svc = instances(request)
    user = current_user(request)
    wait = wait_of(request)
    body = parse(ReconfigureRequest, await read_json(request))
    policy = _policy(body)
    move: PlanMove | Keep = KEEP
    if "plan" in body.model_fields_set:
        move = await svc.plan_move(request.match_info["id"], body.plan, owner_id=owner_filter(user))
    if body.settings is None and isinstance(policy, Keep) and isinstance(move, Keep):
        raise Invalid([FieldError("settings", "give settings, plan, backup_policy or a mix")])
    accepted = await svc.reconfigure(
        user,
        request.match_info["id"],
        body.settings,
        owner_id=owner_filter(user),
        convert=body.convert,
        backup_policy=policy,
        move=move,
    )
    if accepted is None:
        raise NotFound("instance")
    return await _answer(
        svc,
        accepted.instance_id,
        accepted.operation_id,
        wait,
        done=ReconfigureResult,
        pending=ReconfigureOperation,
        extra=_summary(accepted),
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
    svc = instances(request)
    user = current_user(request)
    wait = wait_of(request)
    body = parse(RotateRequest, await read_json(request))
    accepted = await svc.rotate(
        user, request.match_info["id"], grace_seconds=body.grace_seconds, owner_id=owner_filter(user)
    )
    if accepted is None:
        raise NotFound("instance")
    extra = {"password": accepted.password, "grace_seconds": accepted.grace_seconds}
    return await _answer(
        svc,
        accepted.instance_id,
        accepted.operation_id,
        wait,
        done=RotateResult,
        pending=RotateOperation,
        extra=extra,
    )


@routes.post("/api/v1/instances/{id}/restore")
@contract(
    "Replace a running instance's data with one of your backups, in place",
    description="The backup must be completed (409), of the instance's engine (422 naming"
    " backup_id) and yours (404). The old data is kept aside until the new data serves and put"
    " back if it does not; credentials are unchanged. 202 with the operation (its facts say"
    " restored / rolled_back), or with ?wait=N the instance (200) once it has the backup's data.",
    path=_ID,
    query=WaitQuery,
    request=RestoreRequest,
    responses={200: RestoreResult, 202: RestoreOperation},
    errors=(409,),
)
async def restore_instance(request: web.Request) -> web.Response:
    svc = instances(request)
    user = current_user(request)
    wait = wait_of(request)
    body = parse(RestoreRequest, await read_json(request))
    accepted = await svc.restore(user, request.match_info["id"], body.backup_id, owner_id=owner_filter(user))
    extra = {"backup_id": accepted.backup_id}
    return await _answer(
        svc,
        accepted.instance_id,
        accepted.operation_id,
        wait,
        done=RestoreResult,
        pending=RestoreOperation,
        extra=extra,
    )


@routes.post("/api/v1/instances/{id}/rotate-certificate")
@contract(
    "Give the instance a new TLS certificate, reloaded live",
    description="A new certificate from the deployment's CA (its key made by dbvend, never shown),"
    " shipped to the server and reloaded without a restart (MariaDB FLUSH SSL, Redis CONFIG SET):"
    " open connections stay up, new ones get the new certificate. dbvend does this by itself at"
    " two thirds of a certificate's life and during a CA rotation. 409 naming settings.tls when"
    " the instance has TLS off. 202 with the operation, or with ?wait=N the instance (200). " + _ACTIONS,
    path=_ID,
    query=WaitQuery,
    responses={200: ActionResult, 202: ActionOperation},
    errors=(409,),
)
async def rotate_certificate(request: web.Request) -> web.Response:
    svc = instances(request)
    user = current_user(request)
    wait = wait_of(request)
    accepted = await svc.rotate_certificate(user, request.match_info["id"], owner_id=owner_filter(user))
    if accepted is None:
        raise NotFound("instance")
    return await _answer(
        svc,
        accepted.instance_id,
        accepted.operation_id,
        wait,
        done=ActionResult,
        pending=ActionOperation,
        extra={},
    )
