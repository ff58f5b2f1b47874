"""delete: deprovision.yml for the batch's instances, then each one's outcome recorded:
deleted, deleted with the cleanup deferred to when the host answers, retried, or failed."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ...db import backups, credentials, instances, operations, ports
from ...db import events as events_repo
from ...db import hosts as hosts_repo
from ...db import tls as tls_repo
from ..outcomes import Delete, backoff, delete_outcome
from .base import RunContext, held, log
from .shared import deprovision, failure_event

if TYPE_CHECKING:
    from ...db.operations import Operation


class DeleteKind:
    name = "delete"

    async def run(self, ctx: RunContext, ops: list[Operation]) -> None:
        await deletes(ctx, ops)


async def deletes(ctx: RunContext, ops: list[Operation]) -> None:
    if not ops:
        return
    targets: dict[str, tuple[Operation, instances.Instance]] = {}
    for op in ops:
        async with ctx.outcome(op, "delete"):
            inst = await instances.get_any(ctx.pool, op.instance_id)
            if inst is None or inst.status == "deleted":
                held(await operations.finish(ctx.pool, op.lease, "succeeded"))
                continue
            if not await _final_backup_kept(ctx, op, inst):
                continue
            targets[inst.id] = (op, inst)
    still = {op.id for op in await ctx.holding([op for op, _ in targets.values()], "delete")}
    targets = {iid: t for iid, t in targets.items() if t[0].id in still}
    if not targets:
        return
    result = await deprovision(ctx, [inst for _, inst in targets.values()])
    for instance_id, (op, inst) in targets.items():
        host_known = inst.host in ctx.hosts
        outcome = result.outcome(instance_id) if result and host_known else None
        decision = delete_outcome(host_known, outcome, op.attempts, op.max_attempts)
        async with ctx.outcome(op, f"delete ({decision.action.value})"):
            await _record(ctx, op, inst, decision.action, decision.error or "")


async def _final_backup_kept(ctx: RunContext, op: Operation, inst: instances.Instance) -> bool:
    """A delete asked with final_backup=true runs only once that backup is completed; when
    it failed, the delete fails and the instance gets its status back, data untouched."""
    backup_id = op.params.get("final_backup_id")
    if not backup_id:
        return True
    backup = await backups.get(ctx.pool, str(backup_id))
    if backup is not None and backup.status == "completed":
        return True
    if backup is not None and backup.status in ("pending", "running"):
        # Its operation is older, so it normally ends first; wait behind it.
        held(
            await operations.retry_later(
                ctx.pool, op.lease, 5.0, f"waiting for final backup {backup_id}", count_attempt=False
            )
        )
        return False
    why = "it is gone" if backup is None else (backup.error or f"it is {backup.status}")
    why = why.removesuffix("; the instance stays deleting")
    previous = str(op.params.get("previous_status"))
    previous = previous if previous in ("running", "stopped", "failed") else "failed"
    error = f"final backup failed: {why}; the instance was not deleted"
    async with ctx.pool.acquire() as conn, conn.transaction():
        held(await operations.finish(conn, op.lease, "failed", error=error[:2000]))
        await instances.set_status(conn, inst.id, previous, only_from=("deleting",), error=error[:500])
        await events_repo.insert(conn, failure_event(op, inst, error))
    log.error("delete %s of %s refused: %s", op.id, inst.id, error)
    return False


async def _record(
    ctx: RunContext, op: Operation, inst: instances.Instance, action: Delete, error: str
) -> None:
    if action is Delete.RETRY:
        held(await operations.retry_later(ctx.pool, op.lease, backoff(op.attempts), error))
        return
    async with ctx.pool.acquire() as conn, conn.transaction():
        if action is Delete.DELETED:
            held(await operations.finish(conn, op.lease, "succeeded"))
            await ports.release(conn, inst.id)
            await hosts_repo.cleanup_done(conn, inst.host, [inst.id])
            await instances.mark_deleted(conn, inst.id)
            await credentials.remove_all(conn, inst.id)
            await tls_repo.forget(conn, inst.id)
            log.info("instance %s deleted", inst.id)
        elif action is Delete.DEFERRED:
            # The host is down: the delete completes for the user now; the container and
            # the port claim (which keeps the memory committed) go when the host answers.
            held(await operations.finish(conn, op.lease, "succeeded", facts={"cleanup": "pending host"}))
            await hosts_repo.set_health(conn, inst.host, up=False, reason=error[:500])
            await hosts_repo.add_cleanup(conn, inst.host, inst.id, "deleted while the host was down")
            await instances.mark_deleted(conn, inst.id)
            await credentials.remove_all(conn, inst.id)
            await tls_repo.forget(conn, inst.id)
            log.warning("instance %s deleted while %s is down; cleanup deferred", inst.id, inst.host)
        elif action is Delete.REFUSED:
            # The host left the inventory after the delete was accepted: nothing can be
            # undone there, so nothing is marked deleted (the port claim stays).
            error = f"host {inst.host!r} is not in the inventory; the delete was not done"
            previous = str(op.params.get("previous_status"))
            previous = previous if previous in ("running", "stopped", "failed") else "failed"
            held(await operations.finish(conn, op.lease, "failed", error=error))
            await instances.set_status(conn, inst.id, previous, only_from=("deleting",), error=error)
            log.error("delete of %s refused: %s", inst.id, error)
        else:
            error = f"delete failed: {error}"
            held(await operations.finish(conn, op.lease, "failed", error=error))
            await instances.set_status(conn, inst.id, "failed", error=error)
            await events_repo.insert(conn, failure_event(op, inst, error))
