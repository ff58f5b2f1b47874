"""repair (queued by monitoring's reconciliation): start the container of a running
instance again. provision.yml converges it (state: started); the instance stays `running`
and only its facts are refreshed."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ...db import events as events_repo
from ...db import instances, operations
from ...db.events import Event
from ..outcomes import Repair, backoff, repair_outcome
from .base import RunContext, held, log
from .shared import ProvisionBatch, enlist, failure_event, keep_held, provision

if TYPE_CHECKING:
    from ...db.operations import Operation
    from ..runner import RunResult


class RepairKind:
    name = "repair"

    async def run(self, ctx: RunContext, ops: list[Operation]) -> None:
        await repairs(ctx, ops)


async def repairs(ctx: RunContext, ops: list[Operation]) -> None:
    if not ops:
        return
    batch = ProvisionBatch()
    for op in ops:
        async with ctx.outcome(op, "repair"):
            inst = await instances.get_any(ctx.pool, op.instance_id)
            host = ctx.hosts.get(inst.host) if inst is not None else None
            if inst is None or inst.status != "running" or host is None:
                error = "superseded: the instance is no longer running here"
                held(await operations.finish(ctx.pool, op.lease, "failed", error=error))
                continue
            await enlist(ctx, batch, op, inst, host)
    if not await keep_held(ctx, batch, "repair"):
        return
    log.info("repairing %d instance(s) with provision.yml: %s", len(batch.members), ", ".join(batch.members))
    result, not_ready = await provision(ctx, batch)
    for instance_id, (op, inst) in batch.members.items():
        async with ctx.outcome(op, "repair"):
            await _record(ctx, op, inst, result, not_ready.get(instance_id))


async def _record(
    ctx: RunContext, op: Operation, inst: instances.Instance, result: RunResult, not_ready: str | None
) -> None:
    facts = result.facts.get(inst.id)
    decision = repair_outcome(result.outcome(inst.id), facts, not_ready, op.attempts, op.max_attempts)
    if decision.action is Repair.SUCCEEDED and facts:
        async with ctx.pool.acquire() as conn, conn.transaction():
            held(await operations.finish(conn, op.lease, "succeeded", facts=facts))
            await instances.set_status(conn, inst.id, "running", only_from=("running",), facts=facts)
            await events_repo.insert(conn, _repaired_event(op, inst))
        log.warning("instance %s: container started again (repair %s)", inst.id, op.id)
        return
    error = decision.error or "the playbook reported no facts for this instance"
    if decision.action is Repair.RETRY:
        held(await operations.retry_later(ctx.pool, op.lease, backoff(op.attempts), error))
        return
    async with ctx.pool.acquire() as conn, conn.transaction():
        held(await operations.finish(conn, op.lease, "failed", error=error))
        await events_repo.insert(conn, failure_event(op, inst, error))
    log.error("repair %s of %s failed: %s", op.id, inst.id, error)


def _repaired_event(op: Operation, inst: instances.Instance) -> Event:
    return Event(
        kind="instance_repaired",
        severity="warning",
        source="worker",
        instance_id=inst.id,
        subject=inst.host,
        message=f"container of {inst.id} started again by reconciliation (operation {op.id})",
        details={"operation_id": op.id, "reason": op.params.get("reason")},
    )
