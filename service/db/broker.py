"""The service broker's records: platform ids mapped to instances and credentials, the request
that made each (for the 200/409 of a repeat) and who on the platform asked for each operation."""

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
    request: dict[str, Any]


@dataclass(frozen=True)
class BrokerBinding:
    osb_id: str
    instance_osb_id: str
    credential_name: str
    request: dict[str, Any]


async def instance(db: Executor, osb_id: str) -> BrokerInstance | None:
    row = await db.fetchrow(
        "SELECT osb_id, instance_id, service_id, plan_id, request FROM broker_instances WHERE osb_id = $1",
        osb_id,
    )
    return BrokerInstance(**dict(row)) if row else None


async def forget_instance(db: Executor, osb_id: str) -> None:
    """The platform id of an instance that is gone, before the id is provisioned again."""
    await db.execute("DELETE FROM broker_instances WHERE osb_id = $1", osb_id)


async def add_instance(
    db: Executor,
    osb_id: str,
    instance_id: str,
    service_id: str,
    plan_id: str,
    request: dict[str, Any],
    identity: dict[str, Any] | None,
) -> bool:
    """False when another request recorded this id first (a concurrent identical PUT)."""
    done = await db.fetchval(
        "INSERT INTO broker_instances (osb_id, instance_id, service_id, plan_id, request, identity)"
        " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (osb_id) DO NOTHING RETURNING true",
        osb_id,
        instance_id,
        service_id,
        plan_id,
        request,
        identity,
    )
    return bool(done)


async def binding(db: Executor, osb_id: str) -> BrokerBinding | None:
    row = await db.fetchrow(
        "SELECT osb_id, instance_osb_id, credential_name, request FROM broker_bindings WHERE osb_id = $1",
        osb_id,
    )
    return BrokerBinding(**dict(row)) if row else None


async def add_binding(
    db: Executor,
    osb_id: str,
    instance_osb_id: str,
    credential_name: str,
    request: dict[str, Any],
    identity: dict[str, Any] | None,
) -> bool:
    done = await db.fetchval(
        "INSERT INTO broker_bindings (osb_id, instance_osb_id, credential_name, request, identity)"
        " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (osb_id) DO NOTHING RETURNING true",
        osb_id,
        instance_osb_id,
        credential_name,
        request,
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
