"""reconfigure (PATCH /instances/{id}): reconfigure.yml with the new settings' role
variables and the engine's reconfigure_vars (what to change live, what by one restart),
then the readiness check. The row gets the new settings and memory only on success.

The change is computed again from the row's settings and the recorded target, so a re-run
after a crash sees the same change (the row is unchanged until the success is recorded)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ...db import instances
from ...db import tls as tls_repo
from ...engines import get_engine
from ...engines.base import TLS_OFF, tls_mode
from .. import certificates
from .day2 import Day2Kind, Done, Plan, Refused

if TYPE_CHECKING:
    from ...db.operations import Operation
    from .base import RunContext


class ReconfigureKind(Day2Kind):
    name = "reconfigure"
    playbook = "reconfigure.yml"

    async def plan(self, ctx: RunContext, op: Operation, inst: instances.Instance) -> Plan:
        base = await super().plan(ctx, op, inst)
        target = op.params.get("settings")
        if not isinstance(target, dict):
            raise Refused("the operation records no settings")
        engine = get_engine(inst.engine)
        change = engine.change_settings(
            base.settings, target, convert=bool(op.params.get("convert")), instance_name=inst.name
        )
        # TLS switched on: the server gets its first certificate with the change (a retry
        # ships the same pending one). Between TLS modes the role keeps the files it has.
        switched_on = tls_mode(base.settings) == TLS_OFF and tls_mode(change.after) != TLS_OFF
        host = ctx.hosts[inst.host]
        shipment = (
            await certificates.ship(
                ctx.pool, ctx.box, ctx.settings, instance_id=inst.id, address=host.address
            )
            if switched_on
            else None
        )
        return Plan(
            change.after,
            base.credentials,
            shipment=shipment,
            extra_vars=engine.reconfigure_vars(change),
            data={
                "settings": change.after.model_dump(mode="json"),
                "memory_mb": engine.memory_mb(change.after),
                # A plan change (PATCH with `plan`) records the target; without one the plan stays.
                "plan": op.params.get("plan", inst.plan),
            },
        )

    async def succeeded(self, done: Done) -> None:
        if tls_mode(done.plan.settings) == TLS_OFF:
            # TLS switched off (or never on): no certificate to keep or renew.
            await tls_repo.forget(done.conn, done.inst.id)
        await instances.reconfigured(
            done.conn,
            done.inst.id,
            done.plan.data["settings"],
            done.plan.data["memory_mb"],
            done.facts,
            plan=done.plan.data["plan"],
        )

    async def undo_plan(
        self, ctx: RunContext, op: Operation, inst: instances.Instance
    ) -> tuple[str, Plan] | None:
        """The row still holds the old settings: change the server back to them."""
        forward = await self.plan(ctx, op, inst)
        base = await super().plan(ctx, op, inst)
        engine = get_engine(inst.engine)
        back = engine.change_settings(
            forward.settings,
            base.settings.model_dump(mode="json"),
            convert=bool(op.params.get("convert")),
            instance_name=inst.name,
        )
        return "reconfigure.yml", Plan(back.after, base.credentials, extra_vars=engine.reconfigure_vars(back))
