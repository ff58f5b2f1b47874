"""/v2/service_instances/{instance_id}: provision, update, deprovision, fetch, last_operation.
Every change is asynchronous (422 AsyncRequired without accepts_incomplete=true) and answers
the dbvend operation id as OSB's `operation`."""

from __future__ import annotations

import hashlib
from typing import Any

from aiohttp import web

from ..db import broker as repo
from ..db.instances import Instance
from ..db.users import User
from ..errors import Conflict
from ..instances.service import KEEP, Accepted, Keep, PlanMove
from ..plans.service import Plan
from ..web.body import read_json
from .account import broker_account
from .catalog import catalog_document
from .models import ProvisionRequest, UpdateRequest
from .protocol import IDENTITY, OSB_ID, BrokerError
from .services import Broker, broker
from .shared import async_required, body_of, differing, osb_state

routes = web.RouteTableDef()


def instance_name(osb_id: str) -> str:
    """The dbvend name of a platform's instance: derived, so a repeat after a crash finds the
    instance made before it (the name is taken) instead of making a second one."""
    return "osb-" + hashlib.sha256(osb_id.encode()).hexdigest()[:40]


def osb_id_of(request: web.Request, key: str = "instance_id") -> str:
    value = request.match_info[key]
    if not OSB_ID.fullmatch(value):
        raise BrokerError(400, f"{key}: 1-200 of A-Z, a-z, 0-9, '.', '_', '-'")
    return value


async def plan_for(svc: Broker, service_id: str, plan_id: str, *, new: bool) -> Plan:
    catalog = svc.plans.catalog
    plan = catalog.by_id(plan_id)
    if plan is None:
        raise BrokerError(400, f"plan_id {plan_id!r} is not in the catalog")
    if catalog.services[plan.engine].id != service_id:
        raise BrokerError(400, f"plan_id {plan_id!r} is not a plan of service_id {service_id!r}")
    if new and not await svc.plans.is_available(plan):
        raise BrokerError(400, f"plan {plan.name!r} of {plan.engine} takes no new instances")
    return plan


async def live_instance(svc: Broker, user: User, osb_id: str) -> tuple[repo.BrokerInstance, Instance] | None:
    mapped = await repo.instance(svc.pool, osb_id)
    if mapped is None:
        return None
    inst = await svc.instances.get(mapped.instance_id, owner_id=user.id)
    return (mapped, inst) if inst is not None else None


async def instance_of_service(
    svc: Broker, user: User, osb_id: str, service_id: str
) -> tuple[repo.BrokerInstance, Instance]:
    """The live instance a request names (404), which must be of `service_id` (400)."""
    found = await live_instance(svc, user, osb_id)
    if found is None:
        raise BrokerError(404, f"service instance {osb_id} does not exist")
    if service_id != found[0].service_id:
        raise BrokerError(400, "service_id is not the instance's service")
    return found


@routes.get("/v2/catalog")
async def catalog(request: web.Request) -> web.Response:
    svc = broker(request)
    return web.json_response(catalog_document(svc.plans.catalog, await svc.plans.open_plans()))


def _asked(body: ProvisionRequest) -> dict[str, Any]:
    """Every attribute of a provision, as a repeat of it is judged (absent maps are empty)."""
    return {
        "service_id": body.service_id,
        "plan_id": body.plan_id,
        "parameters": body.parameters or {},
        "organization_guid": body.organization_guid,
        "space_guid": body.space_guid,
        "context": body.context or {},
    }


def _recorded(mapped: repo.BrokerInstance) -> dict[str, Any]:
    """What the first request recorded (the columns of migration 0031 only when they are set)."""
    rest = {
        "organization_guid": mapped.organization_guid,
        "space_guid": mapped.space_guid,
        "context": mapped.context,
    }
    return {**mapped.request, **{key: value for key, value in rest.items() if value is not None}}


@routes.put("/v2/service_instances/{instance_id}")
async def provision(request: web.Request) -> web.Response:
    svc = broker(request)
    osb_id = osb_id_of(request)
    async_required(request)
    body = body_of(ProvisionRequest, await read_json(request))
    user = await broker_account(svc)
    asked = _asked(body)
    found = await live_instance(svc, user, osb_id)
    if found is not None:
        mapped, inst = found
        other = differing(_recorded(mapped), asked)
        if other:
            raise BrokerError(409, f"service instance {osb_id} exists with other {', '.join(other)}")
        if inst.status == "provisioning":
            last = await repo.last_operation(svc.pool, osb_id, None)
            return web.json_response({"operation": last} if last else {}, status=202)
        return web.json_response({}, status=200)
    plan = await plan_for(svc, body.service_id, body.plan_id, new=True)
    name = instance_name(osb_id)
    try:
        accepted = await svc.instances.create(user, plan.engine, name, body.parameters, plan=plan)
    except Conflict:
        # The name is taken: an earlier request made this instance and did not live to map it.
        accepted = await _adopt(svc, user, name)
    mapped = repo.BrokerInstance(
        osb_id=osb_id,
        instance_id=accepted.instance_id,
        service_id=body.service_id,
        plan_id=body.plan_id,
        request={key: asked[key] for key in ("service_id", "plan_id", "parameters")},
        organization_guid=body.organization_guid,
        space_guid=body.space_guid,
        context=asked["context"],
    )
    async with svc.pool.acquire() as conn, conn.transaction():
        stale = await repo.instance(conn, osb_id)
        if stale is not None and stale.instance_id != accepted.instance_id:
            # Its instance is gone (live_instance found none): the id is provisioned again. Only
            # now, so a refused request leaves the record of the gone one (last_operation: 410).
            await repo.forget_instance(conn, osb_id, stale.instance_id)
        mapped_now = await repo.add_instance(conn, mapped, request[IDENTITY])
        await repo.note_operation(conn, accepted.operation_id, osb_id, None, request[IDENTITY])
    if not mapped_now:
        raise BrokerError(409, f"service instance {osb_id} is being provisioned by another request")
    return web.json_response({"operation": accepted.operation_id}, status=202)


async def _adopt(svc: Broker, user: User, name: str) -> Accepted:
    found = await svc.instances.created_as(user, name)
    if found is None:
        raise BrokerError(409, "the service instance is being provisioned by another request")
    return found


@routes.patch("/v2/service_instances/{instance_id}")
async def update(request: web.Request) -> web.Response:
    svc = broker(request)
    osb_id = osb_id_of(request)
    async_required(request)
    body = body_of(UpdateRequest, await read_json(request))
    user = await broker_account(svc)
    _, inst = await instance_of_service(svc, user, osb_id, body.service_id)
    move: PlanMove | Keep = KEEP
    if body.plan_id is not None:
        target = await plan_for(svc, body.service_id, body.plan_id, new=False)
        if target.name != inst.plan:
            if not await svc.plans.is_available(target):
                raise BrokerError(400, f"plan {target.name!r} of {target.engine} takes no new instances")
            move = PlanMove(target)
    accepted = await svc.instances.reconfigure(user, inst.id, body.parameters, owner_id=user.id, move=move)
    if accepted is None:
        raise BrokerError(404, f"service instance {osb_id} does not exist")
    if accepted.operation_id is None:
        return web.json_response({}, status=200)
    await repo.note_operation(svc.pool, accepted.operation_id, osb_id, None, request[IDENTITY])
    return web.json_response({"operation": accepted.operation_id}, status=202)


@routes.delete("/v2/service_instances/{instance_id}")
async def deprovision(request: web.Request) -> web.Response:
    svc = broker(request)
    osb_id = osb_id_of(request)
    async_required(request)
    _service_and_plan(request)
    user = await broker_account(svc)
    found = await live_instance(svc, user, osb_id)
    if found is None:
        return web.json_response({}, status=410)
    _, inst = found
    operation_id = await svc.instances.delete(user, inst.id, owner_id=user.id, final_backup=False)
    if operation_id is None:
        return web.json_response({}, status=410)
    await repo.note_operation(svc.pool, operation_id, osb_id, None, request[IDENTITY])
    return web.json_response({"operation": operation_id}, status=202)


def _service_and_plan(request: web.Request) -> None:
    for key in ("service_id", "plan_id"):
        value = request.query.get(key, "")
        if not value or len(value) > 200:
            raise BrokerError(400, f"the query needs {key}")


@routes.get("/v2/service_instances/{instance_id}")
async def fetch(request: web.Request) -> web.Response:
    svc = broker(request)
    osb_id = osb_id_of(request)
    user = await broker_account(svc)
    found = await live_instance(svc, user, osb_id)
    if found is None or found[1].status in ("provisioning", "deleting"):
        raise BrokerError(404, f"service instance {osb_id} does not exist or is not ready")
    mapped, inst = found
    plan = svc.plans.get(inst.engine, inst.plan) if inst.plan else None
    answer: dict[str, Any] = {
        "service_id": mapped.service_id,
        "plan_id": plan.id if plan is not None else mapped.plan_id,
        "parameters": _user_parameters(inst, plan),
    }
    return web.json_response(answer)


def _user_parameters(inst: Instance, plan: Plan | None) -> dict[str, Any]:
    """The settings a platform user may set, as they stand now."""
    if plan is None:
        return dict(inst.settings)
    return {key: inst.settings[key] for key in plan.settable if key in inst.settings}


@routes.get("/v2/service_instances/{instance_id}/last_operation")
async def last_operation(request: web.Request) -> web.Response:
    """404 for an id the broker never provisioned (or forgot: retention); 410 is only for one
    that is gone (see osb_state)."""
    svc = broker(request)
    osb_id = osb_id_of(request)
    user = await broker_account(svc)
    mapped = await repo.instance(svc.pool, osb_id)
    if mapped is None:
        raise BrokerError(404, f"service instance {osb_id} does not exist")
    live = await svc.instances.get(mapped.instance_id, owner_id=user.id) is not None
    return await osb_state(svc, request, osb_id, None, live=live)
