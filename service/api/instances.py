"""/api/v1/instances: create, list, read, delete. Every route filters by owner."""

from __future__ import annotations

from aiohttp import web

from ..db import instances, operations
from ..engines import FieldError
from ..monitoring.health import instance_health
from ..provisioning import intake
from .auth import current_user, owner_filter
from .context import Services, services
from .cursors import decode_cursor, encode_cursor
from .errors import ApiError, not_found, read_json, validation
from .monitoring_views import health_view
from .params import int_query
from .schemas import CreateInstanceRequest, parse
from .views import instance_view, operation_view

routes = web.RouteTableDef()

STATUSES = ("provisioning", "running", "deleting", "failed", "stopped")


def _wait_seconds(request: web.Request, svc: Services) -> int:
    return int_query(request, "wait", 0, 0, svc.settings.max_wait_seconds) or 0


async def _instance_response(svc: Services, instance_id: str, status: int, operation_id: str) -> web.Response:
    inst = await instances.get(svc.pool, instance_id)
    if inst is None:
        raise not_found("instance")
    body = instance_view(inst, svc.box)
    body["operation_id"] = operation_id
    return web.json_response(
        body,
        status=status,
        headers={
            "Location": f"/api/v1/instances/{inst.id}",
            "Operation-Location": f"/api/v1/operations/{operation_id}",
        },
    )


@routes.post("/api/v1/instances")
async def create_instance(request: web.Request) -> web.Response:
    svc = services(request)
    user = current_user(request)
    wait = _wait_seconds(request, svc)
    body = parse(CreateInstanceRequest, await read_json(request))
    try:
        accepted = await intake.request_create(
            svc.pool,
            svc.box,
            user,
            body.engine,
            body.name,
            body.settings,
            max_attempts=svc.settings.max_attempts,
        )
    except intake.NoCapacity as exc:
        raise ApiError(503, str(exc), code="no_capacity", headers={"Retry-After": "30"}) from None
    except intake.Conflict as exc:
        details = [FieldError(exc.field, str(exc))] if exc.field else []
        raise ApiError(409, str(exc), details=details) from None
    status = 202
    if wait:
        op = await svc.waiter.wait(accepted.operation_id, wait)
        if op is not None and op.status == "succeeded":
            status = 201
    return await _instance_response(svc, accepted.instance_id, status, accepted.operation_id)


@routes.get("/api/v1/instances")
async def list_instances(request: web.Request) -> web.Response:
    svc = services(request)
    user = current_user(request)
    engine = request.query.get("engine") or None
    if engine is not None and engine not in ("mysql", "redis"):
        raise validation([FieldError("engine", "must be mysql or redis")])
    status = request.query.get("status") or None
    if status is not None and status not in STATUSES:
        raise validation([FieldError("status", f"must be one of: {', '.join(STATUSES)}")])
    limit = int_query(request, "limit", 50, 1, 200) or 50
    cursor = request.query.get("cursor")
    after = decode_cursor(cursor) if cursor else None
    found = await instances.page(
        svc.pool, owner_id=owner_filter(user), engine=engine, status=status, limit=limit + 1, after=after
    )
    more = len(found) > limit
    found = found[:limit]
    next_cursor = encode_cursor(found[-1].created_at, found[-1].id) if more and found else None
    return web.json_response(
        {"items": [instance_view(i, svc.box) for i in found], "next_cursor": next_cursor}
    )


@routes.get("/api/v1/instances/{id}")
async def get_instance(request: web.Request) -> web.Response:
    svc = services(request)
    inst = await instances.get(
        svc.pool, request.match_info["id"], owner_id=owner_filter(current_user(request))
    )
    if inst is None:
        raise not_found("instance")
    health = await instance_health(svc.pool, inst.id, collect_interval=svc.settings.collect_interval)
    return web.json_response(instance_view(inst, svc.box, health_view(health)))


@routes.delete("/api/v1/instances/{id}")
async def delete_instance(request: web.Request) -> web.Response:
    svc = services(request)
    user = current_user(request)
    wait = _wait_seconds(request, svc)
    operation_id = await intake.request_delete(
        svc.pool,
        request.match_info["id"],
        user,
        owner_id=owner_filter(user),
        max_attempts=svc.settings.max_attempts,
    )
    if operation_id is None:
        raise not_found("instance")
    op = await svc.waiter.wait(operation_id, wait) if wait else None
    if op is not None and op.status == "succeeded":
        return web.Response(status=204)
    if op is None:
        op = await operations.get(svc.pool, operation_id)
    assert op is not None
    return web.json_response(
        operation_view(op), status=202, headers={"Operation-Location": f"/api/v1/operations/{op.id}"}
    )
