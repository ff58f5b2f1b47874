"""/api/v1/instances: create, list, read, delete, and /api/v1/operations/{id}. Every route
filters by owner; the work is the InstanceService's (service.py)."""

from __future__ import annotations

from aiohttp import web

from ..errors import NotFound
from ..web.body import read_json
from ..web.contract import cached_json, contract, read_query, respond, response_body
from ..web.cursors import decode_cursor, encode_cursor
from ..web.identity import current_user, owner_filter
from ..web.operations import Operation, operation_view, removal_answer, wait_seconds
from ..web.queries import WaitQuery
from ..web.schemas import parse
from .requests import (
    SETTINGS_SCHEMAS,
    CreateInstanceRequest,
    DeleteQuery,
    InstanceListQuery,
    OperationListQuery,
)
from .schemas import AcceptedInstance, InstanceDetail, InstancePage, OperationPage
from .service import InstanceService

SERVICE = web.AppKey("instances", InstanceService)
routes = web.RouteTableDef()

_ID = {"id": "instance id"}


def instances(request: web.Request) -> InstanceService:
    return request.app[SERVICE]


def wait_of(request: web.Request) -> int:
    return wait_seconds(request, instances(request).ctx.settings.max_wait_seconds)


async def _instance_response(
    svc: InstanceService, instance_id: str, status: int, operation_id: str
) -> web.Response:
    inst = await svc.get(instance_id)
    if inst is None:
        raise NotFound("instance")
    body = svc.view(inst)
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
    svc = instances(request)
    user = current_user(request)
    wait = wait_of(request)
    body = parse(CreateInstanceRequest, await read_json(request))
    plan = await svc.offered_plan(body.engine, body.plan) if body.plan is not None else None
    created = await svc.create(
        user, body.engine, body.name, body.settings, plan=plan, restore_from=body.restore_from
    )
    if created.running:
        return await _instance_response(svc, created.instance_id, 201, created.operation_id)
    status = 202
    if wait:
        op = await svc.wait(created.operation_id, wait)
        if op is not None and op.status == "succeeded":
            status = 201
    return await _instance_response(svc, created.instance_id, status, created.operation_id)


@routes.get("/api/v1/instances")
@contract("Your instances, newest first", query=InstanceListQuery, responses={200: InstancePage})
async def list_instances(request: web.Request) -> web.Response:
    svc = instances(request)
    viewer = owner_filter(current_user(request))
    query = read_query(request, InstanceListQuery)
    limit = query.limit
    after = decode_cursor(query.cursor) if query.cursor else None
    key = (viewer, query.engine, query.status, limit, query.cursor)
    cached = svc.views.page(key)
    if cached is not None:
        return cached_json(cached)
    generation = svc.views.generation
    found = await svc.page(viewer, engine=query.engine, status=query.status, limit=limit + 1, after=after)
    more = len(found) > limit
    found = found[:limit]
    next_cursor = encode_cursor(found[-1].created_at, found[-1].id) if more and found else None
    response = respond(InstancePage, {"items": [svc.view(i) for i in found], "next_cursor": next_cursor})
    svc.views.keep_page(generation, key, response_body(response))
    return response


@routes.get("/api/v1/instances/{id}")
@contract("One instance with its connection details and health", path=_ID, responses={200: InstanceDetail})
async def get_instance(request: web.Request) -> web.Response:
    svc = instances(request)
    instance_id = request.match_info["id"]
    viewer = owner_filter(current_user(request))
    cached = svc.views.detail(instance_id, viewer)
    if cached is not None:
        return cached_json(cached)
    generation = svc.views.generation
    found = await svc.detail(instance_id, viewer)
    if found is None:
        raise NotFound("instance")
    inst, sample, open_alerts = found
    response = respond(InstanceDetail, svc.view(inst, (sample, open_alerts)))
    svc.views.keep_detail(
        generation, inst.id, inst.owner_id, response_body(response), valid_for=svc.holds_for(sample)
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
    svc = instances(request)
    user = current_user(request)
    wait = wait_of(request)
    operation_id = await svc.delete(
        user,
        request.match_info["id"],
        owner_id=owner_filter(user),
        final_backup=read_query(request, DeleteQuery).final_backup,
    )
    if operation_id is None:
        raise NotFound("instance")
    return removal_answer(await svc.operation_after(operation_id, wait), waited=bool(wait))


@routes.get("/api/v1/operations/{id}")
@contract("How an operation on an instance went", path={"id": "operation id"}, responses={200: Operation})
async def get_operation(request: web.Request) -> web.Response:
    op = await instances(request).operation(
        request.match_info["id"], owner_id=owner_filter(current_user(request))
    )
    if op is None:
        raise NotFound("operation")
    return respond(Operation, operation_view(op))


@routes.get("/api/v1/instances/{id}/operations")
@contract(
    "One of your instance's operations (create, day-2 actions, backups, credentials), newest first",
    description="Each as GET /operations/{id} shows it. Another user's instance is 404.",
    path=_ID,
    query=OperationListQuery,
    responses={200: OperationPage},
)
async def list_instance_operations(request: web.Request) -> web.Response:
    query = read_query(request, OperationListQuery)
    after = decode_cursor(query.cursor) if query.cursor else None
    found = await instances(request).operations_of(
        request.match_info["id"],
        owner_id=owner_filter(current_user(request)),
        limit=query.limit + 1,
        after=after,
    )
    more = len(found) > query.limit
    found = found[: query.limit]
    next_cursor = encode_cursor(found[-1].created_at, found[-1].id) if more and found else None
    return respond(OperationPage, {"items": [operation_view(op) for op in found], "next_cursor": next_cursor})
