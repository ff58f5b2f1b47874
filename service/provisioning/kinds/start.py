"""start: lifecycle.yml action=start for a stopped instance, then the readiness check with
its (unchanged) credentials. Its memory was reserved when the start was accepted
(provisioning/actions.py). A start that fails for good stops the container again, so the
instance is `stopped` as its row says, not running behind dbvend's back."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ...db import instances
from .day2 import Day2Kind, Plan

if TYPE_CHECKING:
    from ...db import Conn
    from ...db.operations import Operation
    from .base import RunContext


class StartKind(Day2Kind):
    name = "start"
    playbook = "lifecycle.yml"
    runs_from = ("stopped",)

    async def plan(self, ctx: RunContext, op: Operation, inst: instances.Instance) -> Plan:
        plan = await super().plan(ctx, op, inst)
        plan.extra_vars["action"] = "start"
        return plan

    async def succeeded(
        self,
        ctx: RunContext,
        conn: Conn,
        op: Operation,
        inst: instances.Instance,
        plan: Plan,
        facts: dict[str, Any],
    ) -> None:
        await instances.set_status(conn, inst.id, "running", only_from=("stopped",), facts=facts)

    async def undo_plan(
        self, ctx: RunContext, op: Operation, inst: instances.Instance
    ) -> tuple[str, Plan] | None:
        plan = await super().plan(ctx, op, inst)
        plan.extra_vars["action"] = "stop"
        return "lifecycle.yml", plan
