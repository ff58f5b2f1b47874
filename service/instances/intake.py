"""A create the cold way, and a delete: validate, place, record — all before anything is
deployed.

One transaction checks the owner's quota (under the owner's row lock), inserts the
instance, claims its port and queues the operation, under the placement lock so concurrent
requests see each other's claims; the (host, port) primary key of port_claims is the
guarantee behind it. service.py decides which way a create goes (warm.py or here)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..crypto import SecretBox
from ..db import instances, locks, operations, ports
from ..db.ids import new_id
from ..engines import get_engine
from ..errors import Conflict
from ..operations import admission, quota
from ..operations.placing import place
from ..operations.restorable import restorable
from ..plans.service import Plan, create_settings

if TYPE_CHECKING:
    from collections.abc import Mapping

    from ..db import Pool
    from ..db.users import User


@dataclass(frozen=True)
class Accepted:
    """A create taken: its instance and operation; `running` when a warm pool slot answered."""

    instance_id: str
    operation_id: str
    running: bool = False


async def request_create(
    pool: Pool,
    box: SecretBox,
    owner: User,
    engine_name: str,
    name: str | None,
    raw_settings: dict[str, Any] | None,
    *,
    max_attempts: int,
    quotas: quota.QuotaDefaults,
    restore_from: str | None = None,
    plan: Plan | None = None,
    defaults: Mapping[str, Any] | None = None,
) -> Accepted:
    """`restore_from`: a clone of this completed backup of the owner's (checked before
    anything is recorded; the create kind restores it after provisioning). `plan`: the
    settings come from it (Plan.resolve), the instance records its name."""
    engine = get_engine(engine_name)
    instance_id = new_id("i-")
    if name is None:
        name = instance_id
    settings = create_settings(engine, plan, raw_settings, instance_name=name, defaults=defaults)
    memory_mb = engine.memory_mb(settings)
    credentials = engine.new_credentials()
    sealed = box.seal(credentials.secrets())
    stored_settings = settings.model_dump(mode="json")
    async with pool.acquire() as conn, conn.transaction():
        if restore_from is not None:
            await restorable(conn, restore_from, owner_id=owner.id, engine=engine.name, field="restore_from")
        # The user's lock first, then placement's: every create takes them in this order.
        await quota.check(conn, owner.id, memory_mb, quotas)
        await locks.placement(conn)
        if await instances.name_taken(conn, owner.id, name):
            raise Conflict(f"you already have an instance named {name!r}", field="name")
        host, port = await place(conn, memory_mb)
        await instances.insert(
            conn,
            id=instance_id,
            name=name,
            engine=engine.name,
            owner_id=owner.id,
            settings=stored_settings,
            memory_mb=memory_mb,
            host=host,
            port=port,
            username=credentials.username,
            secrets=sealed,
            plan=plan.name if plan is not None else None,
        )
        await ports.claim(conn, host, port, instance_id)
        operation_id = await operations.record(
            conn,
            kind="create",
            instance_id=instance_id,
            requested_by=owner.id,
            params={
                "engine": engine.name,
                "name": name,
                "settings": stored_settings,
                "host": host,
                "port": port,
                **({"restore_from": restore_from} if restore_from else {}),
            },
            max_attempts=max_attempts,
        )
    return Accepted(instance_id, operation_id)


async def request_delete(
    pool: Pool,
    instance_id: str,
    requester: User,
    *,
    owner_id: int | None,
    max_attempts: int,
    final_backup_id: str | None = None,
) -> str | None:
    """Queue a delete; None when the instance does not exist for this caller. Conflict when
    its host has left the inventory: nothing could remove the container there, and marking
    it deleted would free its port and memory while the container may still run.
    `final_backup_id`: the delete runs only once that backup is completed."""
    async with pool.acquire() as conn, conn.transaction():
        row = await admission.lock(conn, instance_id, owner_id)
        if row is None:
            return None
        admission.in_inventory(row, then="to delete it")
        open_ops = await operations.open_for(conn, instance_id)
        pending_delete = next((op for op in open_ops if op.kind == "delete"), None)
        if pending_delete is not None:
            return pending_delete.id  # deleting already: the same operation answers
        await operations.cancel_pending(conn, instance_id, "create", "cancelled: the instance was deleted")
        # A claimed pool slot's converge would only rewrite files the delete removes.
        await operations.cancel_pending(conn, instance_id, "converge", "cancelled: the instance was deleted")
        # A password's grace period may hold a removal back for hours: the delete goes first.
        await operations.cancel_pending(conn, instance_id, "rotate", "cancelled: the instance was deleted")
        # Its extra users go with it: binds and unbinds not begun are moot.
        for kind in ("bind", "unbind"):
            await operations.cancel_pending(conn, instance_id, kind, "cancelled: the instance was deleted")
        await instances.set_status(conn, instance_id, "deleting")
        return await operations.record(
            conn,
            kind="delete",
            instance_id=instance_id,
            requested_by=requester.id,
            params={"previous_status": row.status}
            | ({"final_backup_id": final_backup_id} if final_backup_id else {}),
            max_attempts=max_attempts,
        )


__all__ = ["Accepted", "request_create", "request_delete"]
