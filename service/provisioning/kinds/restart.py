"""restart: lifecycle.yml action=restart (one restart of the container), then the
readiness check; the instance stays `running`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .day2 import Day2Kind, Plan

if TYPE_CHECKING:
    from ...db import instances
    from ...db.operations import Operation
    from .base import RunContext


class RestartKind(Day2Kind):
    name = "restart"
    playbook = "lifecycle.yml"

    async def plan(self, ctx: RunContext, op: Operation, inst: instances.Instance) -> Plan:
        plan = await super().plan(ctx, op, inst)
        plan.extra_vars["action"] = "restart"
        return plan
