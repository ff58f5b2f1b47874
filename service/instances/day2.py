"""Taking a day-2 request (stop, start, restart, a settings change, a password rotation):
check it, then record the operation the worker runs, all in one transaction.

The instance's row is locked first (instances.lock_live), so two requests on one instance
are decided one after the other: the second sees the first's open operation and is
refused. Then, where the request needs more of the host (a start, a bigger size), the
owner's quota (their row lock) and the host's capacity (placement's advisory lock), in the
order a create takes them. A refused request records nothing."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..crypto import SecretBox
from ..db import backup_schedules, instances, operations
from ..engines import Credentials, FieldError, SettingsError, get_engine
from ..engines.base import SettingsChange, random_password
from ..errors import Conflict, NotFound
from ..operations import admission, quota
from ..operations.restorable import restorable
from ..plans.service import Plan, PlanCatalog

if TYPE_CHECKING:
    from ..db import Conn, Pool
    from ..db.users import User

MAX_GRACE_SECONDS = 86400
# What each action needs the instance to be; the status it asks for, when it is one.
_NEEDS = {
    "stop": ("running", "stopped"),
    "start": ("stopped", "running"),
    "restart": ("running", None),
    "reconfigure": ("running", None),
    "rotate": ("running", None),
}


class Keep:
    """The backup schedule stays as it is (the PATCH left `backup_policy` out)."""


KEEP = Keep()


@dataclass(frozen=True)
class PlanMove:
    """A PATCH with `plan`: move to `target` (None: leave the plan for custom settings)."""

    target: Plan | None


@dataclass(frozen=True)
class RestoreAccepted:
    instance_id: str
    operation_id: str
    backup_id: str


@dataclass(frozen=True)
class ActionAccepted:
    """operation_id None: the instance is in the asked-for state already, nothing recorded."""

    instance_id: str
    operation_id: str | None
    change: SettingsChange | None = None
    password: str | None = field(default=None, repr=False)
    grace_seconds: int = 0


async def request_action(
    pool: Pool,
    instance_id: str,
    requester: User,
    kind: str,
    *,
    owner_id: int | None,
    max_attempts: int,
) -> ActionAccepted | None:
    """stop, start or restart; None when the instance does not exist for this caller."""
    async with pool.acquire() as conn, conn.transaction():
        row = await _lock(conn, instance_id, kind, owner_id)
        if row is None:
            return None
        if row.status == _NEEDS[kind][1]:
            return ActionAccepted(instance_id, None)  # stopped (or running) already
        await admission.not_busy(conn, instance_id, _verb(kind))
        if kind == "start":
            await admission.fits(conn, row.host, row.memory_mb, instance_id)
        operation_id = await _queue(conn, row, requester, kind, {}, max_attempts=max_attempts)
    return ActionAccepted(instance_id, operation_id)


async def request_reconfigure(
    pool: Pool,
    instance_id: str,
    requester: User,
    raw_settings: dict[str, Any] | None,
    *,
    convert: bool,
    owner_id: int | None,
    max_attempts: int,
    quotas: quota.QuotaDefaults,
    backup_policy: dict[str, Any] | Keep | None = KEEP,
    plans: PlanCatalog | None = None,
    move: PlanMove | Keep = KEEP,
) -> ActionAccepted | None:
    """A settings change, validated as a create's (SettingsError naming the field), and/or
    a new backup schedule (None: switched off). The schedule is the row's at once and needs
    no operation; with a settings change both are decided in one transaction, so a refused
    change leaves the schedule as it was. An instance on a plan (found in `plans`) changes
    only the plan's settable keys, within bounds; `move` changes the plan itself."""
    async with pool.acquire() as conn, conn.transaction():
        if raw_settings is None and isinstance(move, Keep):
            row = await _lock_for_policy(conn, instance_id, owner_id)
            if row is None:
                return None
            operation_id, change = None, None
        else:
            row = await _lock(conn, instance_id, "reconfigure", owner_id)
            if row is None:
                return None
            current = plans.get(row.engine, row.plan) if plans is not None and row.plan else None
            operation_id, change = await _reconfigure(
                conn, row, requester, raw_settings or {}, convert, max_attempts, quotas, current, move
            )
        if not isinstance(backup_policy, Keep):
            await backup_schedules.set_policy(conn, instance_id, backup_policy)
    return ActionAccepted(instance_id, operation_id, change)


async def _reconfigure(
    conn: Conn,
    row: instances.Locked,
    requester: User,
    raw_settings: dict[str, Any],
    convert: bool,
    max_attempts: int,
    quotas: quota.QuotaDefaults,
    current: Plan | None,
    move: PlanMove | Keep,
) -> tuple[str | None, SettingsChange]:
    engine = get_engine(row.engine)
    target = current if isinstance(move, Keep) else move.target
    moving = not isinstance(move, Keep) and (target.name if target else None) != row.plan
    if target is not None:
        target.refuse_unsettable(raw_settings)
        if moving:
            # The new plan's own settings replace the old plan's; settable ones keep their values.
            raw_settings = {**target.settings, **raw_settings}
    change = engine.change_settings(
        engine.load_settings(row.settings or {}), raw_settings, convert=convert, instance_name=row.name
    )
    if target is not None:
        target.check_bounds(change.after)
    if not change.changed:
        if moving:  # same settings on another plan (or none): the row's plan alone changes
            await instances.set_plan(conn, row.id, target.name if target else None)
        return None, change  # nothing to change: nothing recorded
    await admission.not_busy(conn, row.id, _verb("reconfigure"))
    memory_mb = engine.memory_mb(change.after)
    growth = memory_mb - row.memory_mb
    if growth > 0:
        await quota.check_growth(conn, row.owner_id, growth, quotas)
        await admission.fits(conn, row.host, growth, row.id)
    params = {
        "settings": change.after.model_dump(mode="json"),
        "memory_mb": memory_mb,
        "live": list(change.live),
        "restart": list(change.restart),
        "convert": change.convert,
    }
    if moving:
        params["plan"] = target.name if target else None  # the row's once the change took effect
    return await _queue(conn, row, requester, "reconfigure", params, max_attempts=max_attempts), change


async def _lock_for_policy(conn: Conn, instance_id: str, owner_id: int | None) -> instances.Locked | None:
    """A schedule may be set on an instance in any status but on its way out; the
    scheduler backs up only running ones."""
    row = await instances.lock_live(conn, instance_id, owner_id=owner_id)
    if row is not None and row.status == "deleting":
        raise Conflict(f"instance {instance_id} is deleting: it takes no backup schedule", field="status")
    return row


async def request_rotate(
    pool: Pool,
    box: SecretBox,
    instance_id: str,
    requester: User,
    *,
    grace_seconds: int,
    owner_id: int | None,
    max_attempts: int,
) -> ActionAccepted | None:
    """A new password for the application account, sealed in the operation (never in its
    params) until the worker has made it the server's; returned here, once."""
    async with pool.acquire() as conn, conn.transaction():
        row = await _lock(conn, instance_id, "rotate", owner_id)
        if row is None:
            return None
        engine = get_engine(row.engine)
        if grace_seconds and not engine.password_grace:
            raise SettingsError(
                [
                    FieldError(
                        "grace_seconds",
                        f"{engine.name} instances cannot keep two passwords: MariaDB has no dual"
                        " passwords, so the old one stops working at once (leave grace_seconds out or 0)",
                    )
                ]
            )
        await admission.not_busy(conn, instance_id, _verb("rotate"))
        inst = await instances.get(conn, instance_id)
        assert inst is not None
        old = Credentials.from_secrets(inst.username, box.open(inst.secrets))
        new = Credentials(old.username, random_password(), old.admin_password)
        operation_id = await _queue(
            conn,
            row,
            requester,
            "rotate",
            {"phase": "rotate", "grace_seconds": grace_seconds},
            max_attempts=max_attempts,
            sealed=box.seal(new.secrets()),
        )
    return ActionAccepted(instance_id, operation_id, password=new.password, grace_seconds=grace_seconds)


async def _lock(conn: Conn, instance_id: str, kind: str, owner_id: int | None) -> instances.Locked | None:
    row = await admission.lock(conn, instance_id, owner_id)
    if row is None:
        return None
    needs, target = _NEEDS[kind]
    admission.needs_status(row, [s for s in (needs, target) if s], _verb(kind), needs=needs)
    admission.in_inventory(row)
    return row


def _verb(kind: str) -> str:
    return {"reconfigure": "a settings change", "rotate": "a password rotation"}.get(kind, f"a {kind}")


async def _queue(
    conn: Conn,
    row: instances.Locked,
    requester: User,
    kind: str,
    params: dict[str, Any],
    *,
    max_attempts: int,
    sealed: bytes | None = None,
) -> str:
    return await operations.record(
        conn,
        kind=kind,
        instance_id=row.id,
        requested_by=requester.id,
        params={**params, "previous_status": row.status},
        max_attempts=max_attempts,
        sealed=sealed,
    )


async def request_restore(
    pool: Pool,
    requester: User,
    instance_id: str,
    backup_id: str,
    *,
    owner_id: int | None,
    max_attempts: int,
) -> RestoreAccepted:
    """Replace a running instance's data with a backup of its owner's, in place."""
    async with pool.acquire() as conn, conn.transaction():
        row = await admission.lock(conn, instance_id, owner_id)
        if row is None:
            raise NotFound("instance")
        # The backup must be the instance owner's: a restore never moves data between users.
        await restorable(conn, backup_id, owner_id=row.owner_id, engine=row.engine, field="backup_id")
        admission.needs_status(row, ("running",), "a restore")
        admission.in_inventory(row, then=None)
        await admission.not_busy(conn, instance_id, "a restore")
        operation_id = await operations.record(
            conn,
            kind="restore",
            instance_id=instance_id,
            requested_by=requester.id,
            params={"backup_id": backup_id, "previous_status": row.status},
            max_attempts=max_attempts,
        )
    return RestoreAccepted(instance_id, operation_id, backup_id)


__all__ = [
    "KEEP",
    "MAX_GRACE_SECONDS",
    "ActionAccepted",
    "Keep",
    "request_action",
    "request_reconfigure",
    "request_rotate",
]
