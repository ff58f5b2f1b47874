"""/api/v1/instances: create, list, read, delete. Every route filters by owner."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ..backups.intake import request_backup
from ..db import instances, operations
from ..db.instance_detail import get_with_health
from ..db.users import User
from ..errors import FieldError, Invalid, NotFound
from ..monitoring.health import health_holds_for, health_of
from ..operations import intake
from ..plans import Plan
from ..pool.claim import Claim, claim_create
from .account_views import quota_defaults
from .auth import current_user, owner_filter
from .context import Services, services
from .contract import cached_json, contract, read_query, respond, response_body
from .cursors import decode_cursor, encode_cursor
from .errors import read_json
from .models import AcceptedInstance, InstanceDetail, InstancePage, Operation
from .monitoring_views import health_view
from .plans import offered_plan
from .queries import DeleteQuery, InstanceListQuery, WaitQuery
from .schemas import SETTINGS_SCHEMAS, CreateInstanceRequest, parse
from .views import instance_view, operation_view

routes = web.RouteTableDef()

_ID = {"id": "instance id"}


def wait_seconds(request: web.Request, svc: Services) -> int:
    wait = read_query(request, WaitQuery).wait
    if wait > svc.settings.max_wait_seconds:
        raise Invalid([FieldError("wait", f"must be at most {svc.settings.max_wait_seconds}")])
    return wait


async def _instance_response(svc: Services, instance_id: str, status: int, operation_id: str) -> web.Response:
    inst = await instances.get(svc.pool, instance_id)
    if inst is None:
        raise NotFound("instance")
    body = instance_view(inst, svc.box)
    body["operation_id"] = operation_id
    return respond(
        AcceptedInstance,
        body,
        status=status,
        headers={
            "Location": f"/api/v1/instances/{inst.id}",
            "Operation-Location": f"/api/v1/operations/{operation_id}",
        },
    )


@routes.post("/api/v1/instances")
@contract(
    "Ask for a MySQL or Redis instance",
    description="Validated and recorded at once; a worker deploys it. `settings` follow the engine's "
    f"settings schema ({SETTINGS_SCHEMAS}); unknown keys are rejected. "
    "With ?wait=N the answer is 201 once it runs. "
    "With `plan` (GET /api/v1/plans) the settings come from the plan and `settings` may hold only"
    " its settable keys within their bounds (422 naming the field); an unknown or closed plan is a"
    " 422 naming `plan`. "
    "When a warm pool slot fits (docs/pool.md) the answer is 201 at once, with or without ?wait. "
    "Over the owner's quota: 403 quota_exceeded naming quota.instances or quota.memory_mb, nothing recorded. "
    "With restore_from (a clone) the new instance gets that backup's data and its own credentials: the"
    " backup must be yours (404), completed (409) and of the same engine (422 naming restore_from).",
    request=CreateInstanceRequest,
    query=WaitQuery,
    responses={201: AcceptedInstance, 202: AcceptedInstance},
    errors=(403, 404, 409, 503),
)
async def create_instance(request: web.Request) -> web.Response:
    svc = services(request)
    user = current_user(request)
    wait = wait_seconds(request, svc)
    body = parse(CreateInstanceRequest, await read_json(request))
    plan = await offered_plan(svc, body.engine, body.plan) if body.plan is not None else None
    accepted, running = await accept_create(
        svc, user, body.engine, body.name, body.settings, plan=plan, restore_from=body.restore_from
    )
    if running:
        return await _instance_response(svc, accepted.instance_id, 201, accepted.operation_id)
    status = 202
    if wait:
        op = await svc.waiter.wait(accepted.operation_id, wait)
        if op is not None and op.status == "succeeded":
            status = 201
    return await _instance_response(svc, accepted.instance_id, status, accepted.operation_id)


async def accept_create(
    svc: Services,
    user: User,
    engine: str,
    name: str | None,
    settings: dict[str, Any] | None,
    *,
    plan: Plan | None,
    restore_from: str | None = None,
) -> tuple[intake.Accepted, bool]:
    """A create taken (also by the service broker): (accepted, running already). A warm pool
    slot answers at once; otherwise the cold path records it for a worker. Raises what
    intake.request_create raises."""
    if restore_from is None:
        claimed = await _from_pool(svc, user, engine, name, settings, plan)
        if claimed is not None:
            return claimed, True
    accepted = await intake.request_create(
        svc.pool,
        svc.box,
        user,
        engine,
        name,
        settings,
        max_attempts=svc.settings.max_attempts,
        quotas=quota_defaults(svc.settings),
        restore_from=restore_from,
        plan=plan,
    )
    return accepted, False


async def _from_pool(
    svc: Services,
    user: User,
    engine: str,
    name: str | None,
    settings: dict[str, Any] | None,
    plan: Plan | None,
) -> intake.Accepted | None:
    """A running instance from a warm pool slot, or None: the cold path (never an error)."""
    if not svc.settings.pool_enabled:
        return None
    ctx = Claim(
        svc.pool,
        svc.box,
        svc.hosts,
        svc.settings.worker_id,
        quota_defaults(svc.settings),
        svc.settings.max_attempts,
    )
    return await claim_create(ctx, user, engine, name, settings, plan)


@routes.get("/api/v1/instances")
@contract("Your instances, newest first", query=InstanceListQuery, responses={200: InstancePage})
async def list_instances(request: web.Request) -> web.Response:
    svc = services(request)
    viewer = owner_filter(current_user(request))
    query = read_query(request, InstanceListQuery)
    limit = query.limit
    after = decode_cursor(query.cursor) if query.cursor else None
    key = (viewer, query.engine, query.status, limit, query.cursor)
    cached = svc.views.page(key)
    if cached is not None:
        return cached_json(cached)
    generation = svc.views.generation
    found = await instances.page(
        svc.reads,
        owner_id=viewer,
        engine=query.engine,
        status=query.status,
        limit=limit + 1,
        after=after,
    )
    more = len(found) > limit
    found = found[:limit]
    next_cursor = encode_cursor(found[-1].created_at, found[-1].id) if more and found else None
    response = respond(
        InstancePage, {"items": [instance_view(i, svc.box) for i in found], "next_cursor": next_cursor}
    )
    svc.views.keep_page(generation, key, response_body(response))
    return response


@routes.get("/api/v1/instances/{id}")
@contract("One instance with its connection details and health", path=_ID, responses={200: InstanceDetail})
async def get_instance(request: web.Request) -> web.Response:
    svc = services(request)
    instance_id = request.match_info["id"]
    viewer = owner_filter(current_user(request))
    cached = svc.views.detail(instance_id, viewer)
    if cached is not None:
        return cached_json(cached)
    generation = svc.views.generation
    found = await get_with_health(svc.reads, instance_id, owner_id=viewer)
    if found is None:
        raise NotFound("instance")
    inst, sample, open_alerts = found
    interval = svc.settings.collect_interval
    health = health_of(sample, open_alerts, collect_interval=interval)
    response = respond(InstanceDetail, instance_view(inst, svc.box, health_view(health)))
    svc.views.keep_detail(
        generation,
        inst.id,
        inst.owner_id,
        response_body(response),
        valid_for=health_holds_for(sample, collect_interval=interval),
    )
    return response


@routes.delete("/api/v1/instances/{id}")
@contract(
    "Remove the container, its data and its port",
    description="With `final_backup=true` a backup operation is queued first and the delete runs"
    " after it; the backup (`final: true`) outlives the instance and can be restored into a new one"
    " (POST /instances with restore_from). 409 when the instance cannot be backed up now (it is"
    " neither running nor stopped), 403 quota_exceeded when the owner's backups are over their"
    " quota; nothing is recorded then. When the final backup fails, the delete fails with it"
    ' ("final backup failed: ...") and the instance keeps its status, data and credentials.',
    path=_ID,
    query=DeleteQuery,
    responses={202: Operation, 204: None},
    errors=(403, 409),
)
async def delete_instance(request: web.Request) -> web.Response:
    svc = services(request)
    user = current_user(request)
    wait = wait_seconds(request, svc)
    final_backup_id = None
    if read_query(request, DeleteQuery).final_backup:
        final_backup_id = await _final_backup(svc, request.match_info["id"], user)
    operation_id = await intake.request_delete(
        svc.pool,
        request.match_info["id"],
        user,
        owner_id=owner_filter(user),
        max_attempts=svc.settings.max_attempts,
        final_backup_id=final_backup_id,
    )
    if operation_id is None:
        raise NotFound("instance")
    return await removal_answer(svc, operation_id, wait)


async def removal_answer(svc: Services, operation_id: str, wait: int) -> web.Response:
    """A removal's answer: 204 once it succeeded within ?wait, else 202 with its operation."""
    op = await svc.waiter.wait(operation_id, wait) if wait else None
    if op is not None and op.status == "succeeded":
        return web.Response(status=204)
    if op is None:
        op = await operations.get(svc.pool, operation_id)
    assert op is not None
    return respond(
        Operation,
        operation_view(op),
        status=202,
        headers={"Operation-Location": f"/api/v1/operations/{op.id}"},
    )


async def _final_backup(svc: Services, instance_id: str, user: User) -> str:
    """Queued before the delete, so the worker (an instance's operations run oldest first)
    takes it while the data is still there; the delete refuses to run unless it completed."""
    accepted = await request_backup(
        svc.pool,
        user,
        instance_id,
        owner_id=owner_filter(user),
        final=True,
        max_attempts=svc.settings.max_attempts,
        quota_mb=svc.settings.quota_backup_mb,
    )
    return accepted.backup_id
