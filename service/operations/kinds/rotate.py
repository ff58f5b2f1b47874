"""rotate (POST /instances/{id}/rotate-password): rotate.yml with the new credentials'
role variables and the engine's rotate_vars, then the readiness check with the new
password. On success the row gets the new sealed credentials; with a grace period (Redis)
a second rotate operation (phase `expire`, not claimed before the grace ends) removes the
old password. The secrets travel sealed in operations.sealed, never in params."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ...db import instances, operations
from ...engines import Credentials, get_engine
from .day2 import Day2Kind, Done, Plan, Refused

if TYPE_CHECKING:
    from ...db.operations import Operation
    from .base import RunContext


class RotateKind(Day2Kind):
    name = "rotate"
    playbook = "rotate.yml"

    async def plan(self, ctx: RunContext, op: Operation, inst: instances.Instance) -> Plan:
        base = await super().plan(ctx, op, inst)
        sealed = await operations.sealed(ctx.pool, op.id)
        if sealed is None:
            raise Refused("the operation holds no credentials")
        other = Credentials.from_secrets(inst.username, ctx.box.open(sealed))
        engine = get_engine(inst.engine)
        if op.params.get("phase") == "expire":
            # `other` is the password being retired; the row's is the one that stays.
            old, new, grace = other, base.credentials, 0
        else:
            old, new, grace = base.credentials, other, int(op.params.get("grace_seconds") or 0)
        return Plan(
            base.settings,
            new,
            extra_vars=engine.rotate_vars(old, new, grace_seconds=grace),
            secrets=(old.password, old.admin_password),
            data={"sealed": sealed, "grace_seconds": grace, "expire": op.params.get("phase") == "expire"},
        )

    async def succeeded(self, done: Done) -> None:
        await instances.set_status(
            done.conn, done.inst.id, "running", only_from=("running",), facts=done.facts
        )
        if done.plan.data["expire"]:
            return
        await instances.rekeyed(done.conn, done.inst.id, done.plan.data["sealed"])
        grace = done.plan.data["grace_seconds"]
        if grace > 0:
            await operations.record(
                done.conn,
                kind="rotate",
                instance_id=done.inst.id,
                requested_by=done.op.requested_by,
                params={
                    "phase": "expire",
                    "grace_seconds": 0,
                    "after": done.op.id,
                    "previous_status": "running",
                },
                max_attempts=done.op.max_attempts,
                sealed=done.inst.secrets,  # the old credentials, to be removed
                delay_seconds=grace,
            )

    async def undo_plan(
        self, ctx: RunContext, op: Operation, inst: instances.Instance
    ) -> tuple[str, Plan] | None:
        """The row still holds the old password: make it the server's again (the play may
        have set the new one before it failed)."""
        if op.params.get("phase") == "expire":
            return None  # both passwords still work: nothing half-done to take back
        forward = await self.plan(ctx, op, inst)
        base = await super().plan(ctx, op, inst)
        engine = get_engine(inst.engine)
        return "rotate.yml", Plan(
            base.settings,
            base.credentials,
            extra_vars=engine.rotate_vars(forward.credentials, base.credentials, grace_seconds=0),
            secrets=(forward.credentials.password,),
        )
