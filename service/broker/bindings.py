"""/v2/service_instances/{instance_id}/service_bindings/{binding_id}: every binding is a
credential of its own on the instance (a MySQL user with the application user's grants, a Redis
ACL user with its rules); unbinding removes exactly that user, so OSB's way of rotating
credentials (bind anew, unbind the old) leaves the other bindings working."""

from __future__ import annotations

import hashlib
from typing import Any

from aiohttp import web

from ..db import broker as repo
from ..db.tls_authorities import bundle_pem
from ..web.body import read_json
from .account import broker_account
from .instances import instance_of_service, live_instance, osb_id_of, plan_for
from .models import BindRequest
from .protocol import IDENTITY, BrokerError
from .services import Broker, broker
from .shared import accepts_incomplete, body_of, differing, osb_state

routes = web.RouteTableDef()
_PATH = "/v2/service_instances/{instance_id}/service_bindings/{binding_id}"
# A platform without async bindings waits this long at most for one (a bind takes seconds).
SYNC_BIND_SECONDS = 120


def credential_name(binding_id: str) -> str:
    return "osb-" + hashlib.sha256(binding_id.encode()).hexdigest()[:40]


def _asked(body: BindRequest) -> dict[str, Any]:
    """Every attribute of a bind, as a repeat of it is judged (absent maps are empty;
    `parameters` are refused unless empty, so they are always the same)."""
    return {
        "service_id": body.service_id,
        "plan_id": body.plan_id,
        "app_guid": body.app_guid,
        "bind_resource": body.bind_resource or {},
        "context": body.context or {},
    }


def _recorded(bound: repo.BrokerBinding) -> dict[str, Any]:
    """What the first request recorded (the columns of migration 0031 only when they are set)."""
    rest = {"plan_id": bound.plan_id, "context": bound.context}
    return {**bound.request, **{key: value for key, value in rest.items() if value is not None}}


@routes.put(_PATH)
async def bind(request: web.Request) -> web.Response:
    svc = broker(request)
    osb_id, binding_id = osb_id_of(request), osb_id_of(request, "binding_id")
    incomplete = accepts_incomplete(request)
    body = body_of(BindRequest, await read_json(request))
    if body.parameters:
        raise BrokerError(400, "a binding takes no parameters: its credentials are made by dbvend")
    user = await broker_account(svc)
    _, inst = await instance_of_service(svc, user, osb_id, body.service_id)
    # Any plan of the instance's service (a platform may send the one before a plan update); 400 else.
    await plan_for(svc, body.service_id, body.plan_id, new=False)
    asked = _asked(body)
    name = credential_name(binding_id)
    existing = await repo.binding(svc.pool, binding_id)
    if existing is not None:
        if existing.instance_osb_id != osb_id:
            raise BrokerError(409, f"service binding {binding_id} exists for another service instance")
        current = await svc.credentials.get(inst.id, existing.credential_name, owner_id=user.id)
        other = differing(_recorded(existing), asked) if current is not None else []
        if other:
            raise BrokerError(409, f"service binding {binding_id} exists with other {', '.join(other)}")
        if current is None or current.status == "failed":
            await repo.forget_binding(svc.pool, binding_id)  # gone or failed: made anew below
        elif current.status == "active":
            return await _credentials(svc, inst.id, name, user.id, status=200)
    credential, made = await svc.credentials.request(user, inst.id, name, owner_id=user.id)
    bound = repo.BrokerBinding(
        osb_id=binding_id,
        instance_osb_id=osb_id,
        credential_name=name,
        request={key: asked[key] for key in ("service_id", "app_guid", "bind_resource")},
        plan_id=body.plan_id,
        context=asked["context"],
    )
    async with svc.pool.acquire() as conn, conn.transaction():
        await repo.add_binding(conn, bound, request[IDENTITY])
        await repo.note_operation(conn, credential.operation_id, osb_id, binding_id, request[IDENTITY])
    if credential.status == "active":
        return await _credentials(svc, inst.id, name, user.id, status=200)
    if incomplete:
        return web.json_response({"operation": credential.operation_id}, status=202)
    op = await svc.credentials.wait(credential.operation_id, SYNC_BIND_SECONDS)
    if op is None or op.status != "succeeded":
        reason = op.error if op is not None and op.error else "it did not finish in time"
        raise BrokerError(502, f"the binding could not be made: {reason}")
    # 201 only when this request made it; an identical repeat that waited for it is 200.
    return await _credentials(svc, inst.id, name, user.id, status=201 if made else 200)


async def _credentials(
    svc: Broker, instance_id: str, name: str, owner_id: int, *, status: int
) -> web.Response:
    connection = await svc.credentials.connection(instance_id, name, owner_id=owner_id)
    if connection is None:
        raise BrokerError(404, "the binding is not ready")
    return web.json_response({"credentials": await _with_ca(svc, connection)}, status=status)


async def _with_ca(svc: Broker, connection: dict[str, Any]) -> dict[str, Any]:
    """A TLS instance's binding carries the CA bundle itself (credentials.tls_ca, PEM), as
    platforms expect: an application verifies the server without fetching anything."""
    tls = connection.get("tls") or {}
    if tls.get("mode", "off") == "off":
        return connection
    return {**connection, "tls_ca": await bundle_pem(svc.ctx.reads)}


@routes.delete(_PATH)
async def unbind(request: web.Request) -> web.Response:
    svc = broker(request)
    osb_id, binding_id = osb_id_of(request), osb_id_of(request, "binding_id")
    incomplete = accepts_incomplete(request)
    for key in ("service_id", "plan_id"):
        if not request.query.get(key):
            raise BrokerError(400, f"the query needs {key}")
    user = await broker_account(svc)
    existing = await repo.binding(svc.pool, binding_id)
    found = await live_instance(svc, user, osb_id)
    if existing is None or existing.instance_osb_id != osb_id or found is None:
        return web.json_response({}, status=410)
    operation_id = await svc.credentials.remove(user, found[1].id, existing.credential_name, owner_id=user.id)
    if operation_id is None:
        return web.json_response({}, status=410)
    await repo.note_operation(svc.pool, operation_id, osb_id, binding_id, request[IDENTITY])
    if incomplete:
        return web.json_response({"operation": operation_id}, status=202)
    op = await svc.credentials.wait(operation_id, SYNC_BIND_SECONDS)
    if op is None or op.status != "succeeded":
        reason = op.error if op is not None and op.error else "it did not finish in time"
        raise BrokerError(502, f"the binding could not be removed: {reason}")
    return web.json_response({}, status=200)


@routes.get(_PATH)
async def fetch_binding(request: web.Request) -> web.Response:
    svc = broker(request)
    osb_id, binding_id = osb_id_of(request), osb_id_of(request, "binding_id")
    user = await broker_account(svc)
    existing = await repo.binding(svc.pool, binding_id)
    found = await live_instance(svc, user, osb_id)
    if existing is None or existing.instance_osb_id != osb_id or found is None:
        raise BrokerError(404, f"service binding {binding_id} does not exist")
    connection = await svc.credentials.connection(found[1].id, existing.credential_name, owner_id=user.id)
    if connection is None:
        raise BrokerError(404, f"service binding {binding_id} does not exist or is not ready")
    answer: dict[str, Any] = {"credentials": await _with_ca(svc, connection), "parameters": {}}
    return web.json_response(answer)


@routes.get(_PATH + "/last_operation")
async def binding_last_operation(request: web.Request) -> web.Response:
    """404 for a binding id the broker never made for this instance (or forgot: retention);
    410 is only for one that is gone (see osb_state)."""
    svc = broker(request)
    osb_id, binding_id = osb_id_of(request), osb_id_of(request, "binding_id")
    user = await broker_account(svc)
    existing = await repo.binding(svc.pool, binding_id)
    if existing is None or existing.instance_osb_id != osb_id:
        raise BrokerError(404, f"service binding {binding_id} does not exist")
    found = await live_instance(svc, user, osb_id)
    live = found is not None and (
        await svc.credentials.get(found[1].id, existing.credential_name, owner_id=user.id) is not None
    )
    return await osb_state(svc, request, osb_id, binding_id, live=live)
