"""The service broker's records: platform ids mapped to instances and credentials, the request
that made each (every attribute of it, for the 200/409 of a repeat) and who on the platform
asked for each operation."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from . import Executor


@dataclass(frozen=True)
class BrokerInstance:
    osb_id: str
    instance_id: str
    service_id: str
    plan_id: str
    request: dict[str, Any]  # service_id, plan_id, parameters
    # The rest of the request (migration 0031); None on a row made before it: not recorded.
    organization_guid: str | None
    space_guid: str | None
    context: dict[str, Any] | None


@dataclass(frozen=True)
class BrokerBinding:
    osb_id: str
    instance_osb_id: str
    credential_name: str
    request: dict[str, Any]  # service_id, app_guid, bind_resource
    # The rest of the request (migration 0031); None on a row made before it: not recorded.
    plan_id: str | None
    context: dict[str, Any] | None


_INSTANCE = (
    "SELECT osb_id, instance_id, service_id, plan_id, request, organization_guid, space_guid, context"
    " FROM broker_instances"
)
_BINDING = "SELECT osb_id, instance_osb_id, credential_name, request, plan_id, context FROM broker_bindings"


async def instance(db: Executor, osb_id: str) -> BrokerInstance | None:
    row = await db.fetchrow(f"{_INSTANCE} WHERE osb_id = $1", osb_id)
    return BrokerInstance(**dict(row)) if row else None


async def forget_instance(db: Executor, osb_id: str, instance_id: str) -> None:
    """The platform id's mapping to an instance that is gone, when the id is provisioned again
    (only that mapping: not one a concurrent request made meanwhile)."""
    await db.execute(
        "DELETE FROM broker_instances WHERE osb_id = $1 AND instance_id = $2", osb_id, instance_id
    )


async def add_instance(db: Executor, mapped: BrokerInstance, identity: dict[str, Any] | None) -> bool:
    """False when another request recorded this id first (a concurrent identical PUT)."""
    done = await db.fetchval(
        "INSERT INTO broker_instances (osb_id, instance_id, service_id, plan_id, request,"
        " organization_guid, space_guid, context, identity)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (osb_id) DO NOTHING RETURNING true",
        mapped.osb_id,
        mapped.instance_id,
        mapped.service_id,
        mapped.plan_id,
        mapped.request,
        mapped.organization_guid,
        mapped.space_guid,
        mapped.context,
        identity,
    )
    return bool(done)


async def binding(db: Executor, osb_id: str) -> BrokerBinding | None:
    row = await db.fetchrow(f"{_BINDING} WHERE osb_id = $1", osb_id)
    return BrokerBinding(**dict(row)) if row else None


async def add_binding(db: Executor, bound: BrokerBinding, identity: dict[str, Any] | None) -> bool:
    done = await db.fetchval(
        "INSERT INTO broker_bindings (osb_id, instance_osb_id, credential_name, request, plan_id,"
        " context, identity)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (osb_id) DO NOTHING RETURNING true",
        bound.osb_id,
        bound.instance_osb_id,
        bound.credential_name,
        bound.request,
        bound.plan_id,
        bound.context,
        identity,
    )
    return bool(done)


async def forget_binding(db: Executor, osb_id: str) -> None:
    await db.execute("DELETE FROM broker_bindings WHERE osb_id = $1", osb_id)


async def note_operation(
    db: Executor,
    operation_id: str,
    instance_osb_id: str,
    binding_osb_id: str | None,
    identity: dict[str, Any] | None,
) -> None:
    await db.execute(
        "INSERT INTO broker_operations (operation_id, osb_instance_id, osb_binding_id, identity)"
        " VALUES ($1, $2, $3, $4) ON CONFLICT (operation_id) DO NOTHING",
        operation_id,
        instance_osb_id,
        binding_osb_id,
        identity,
    )


async def operation_of(
    db: Executor, operation_id: str, instance_osb_id: str, binding_osb_id: str | None
) -> bool:
    """Whether the broker queued this operation for this instance (and binding)."""
    found = await db.fetchval(
        "SELECT true FROM broker_operations WHERE operation_id = $1 AND osb_instance_id = $2"
        " AND osb_binding_id IS NOT DISTINCT FROM $3",
        operation_id,
        instance_osb_id,
        binding_osb_id,
    )
    return bool(found)


async def last_operation(db: Executor, instance_osb_id: str, binding_osb_id: str | None) -> str | None:
    value = await db.fetchval(
        "SELECT operation_id FROM broker_operations WHERE osb_instance_id = $1"
        " AND osb_binding_id IS NOT DISTINCT FROM $2 ORDER BY created_at DESC LIMIT 1",
        instance_osb_id,
        binding_osb_id,
    )
    return str(value) if value is not None else None
