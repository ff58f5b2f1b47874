"""stop: lifecycle.yml action=stop (a graceful stop; the container, port and data stay).
The instance becomes `stopped`, and its memory no longer counts on the host (db/hosts.py).
A stop that fails for good starts the container again: the row still says `running`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ...db import instances
from .day2 import Day2Kind, Plan

if TYPE_CHECKING:
    from ...db import Conn
    from ...db.operations import Operation
    from .base import RunContext


class StopKind(Day2Kind):
    name = "stop"
    playbook = "lifecycle.yml"
    wait_ready = False

    async def plan(self, ctx: RunContext, op: Operation, inst: instances.Instance) -> Plan:
        plan = await super().plan(ctx, op, inst)
        plan.extra_vars["action"] = "stop"
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
        await instances.set_status(conn, inst.id, "stopped", only_from=("running",), facts=facts)

    async def undo_plan(
        self, ctx: RunContext, op: Operation, inst: instances.Instance
    ) -> tuple[str, Plan] | None:
        # Still `running` in its row: start the container again if the stop got that far.
        plan = await super().plan(ctx, op, inst)
        plan.extra_vars["action"] = "start"
        return "lifecycle.yml", plan
