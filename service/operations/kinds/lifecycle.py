"""What stop, start and restart share: one lifecycle.yml run with their `action`, the
status the instance moves to on success, and the action that undoes a failed one."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from ...db import instances
from .day2 import Day2Kind, Done, Plan

if TYPE_CHECKING:
    from ...db.operations import Operation
    from .base import RunContext


class LifecycleKind(Day2Kind):
    playbook = "lifecycle.yml"
    action: ClassVar[str]
    # The status the row gets on success, and the lifecycle action that puts the container
    # back as the row says when the operation fails for good (None: nothing to undo).
    ends_as: ClassVar[str] = "running"
    undo_action: ClassVar[str | None] = None

    async def plan(self, ctx: RunContext, op: Operation, inst: instances.Instance) -> Plan:
        plan = await super().plan(ctx, op, inst)
        plan.extra_vars["action"] = self.action
        return plan

    async def succeeded(self, done: Done) -> None:
        await instances.set_status(
            done.conn, done.inst.id, self.ends_as, only_from=self.runs_from, facts=done.facts
        )

    async def undo_plan(
        self, ctx: RunContext, op: Operation, inst: instances.Instance
    ) -> tuple[str, Plan] | None:
        if self.undo_action is None:
            return await super().undo_plan(ctx, op, inst)
        plan = await Day2Kind.plan(self, ctx, op, inst)
        plan.extra_vars["action"] = self.undo_action
        return self.playbook, plan
