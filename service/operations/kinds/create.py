"""create: provision.yml for the batch's new instances, then each one's outcome recorded:
running, moved to another port or host and retried, or undone and retried or failed."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ...db import events as events_repo
from ...db import hosts as hosts_repo
from ...db import instances, locks, operations, ports
from ...errors import NoCapacity
from ...placement import lowest_free_port
from ...tls import TlsError
from .. import certificates
from ..outcomes import Create, backoff, container_gone, create_outcome
from ..placing import place
from .base import RunContext, held, log
from .clone import restore_clones
from .shared import ProvisionBatch, deprovision, enlist, failure_event, keep_held, provision

if TYPE_CHECKING:
    from typing import Any

    from ...db.operations import Operation
    from ..runner import HostOutcome, RunResult


class CreateKind:
    name = "create"

    async def run(self, ctx: RunContext, ops: list[Operation]) -> None:
        await creates(ctx, ops)


async def creates(ctx: RunContext, ops: list[Operation]) -> None:
    if not ops:
        return
    batch = ProvisionBatch()
    for op in ops:
        async with ctx.outcome(op, "create"):
            inst = await instances.get_any(ctx.pool, op.instance_id)
            if inst is None or inst.status != "provisioning":
                error = "superseded: the instance is no longer being provisioned"
                held(await operations.finish(ctx.pool, op.lease, "failed", error=error))
                continue
            host = ctx.hosts.get(inst.host)
            if host is None:
                await _give_up(ctx, op, inst, f"host {inst.host!r} is not in the inventory", cleanup=False)
                continue
            if op.attempts > op.max_attempts:
                await _give_up(
                    ctx, op, inst, f"gave up after {op.max_attempts} attempts: {op.error or 'interrupted'}"
                )
                continue
            try:
                # The certificate names the host it is placed on now (a move issues another).
                await enlist(ctx, batch, op, inst, host, ship=True)
            except (TlsError, LookupError) as exc:
                batch.drop(inst.id)
                await _give_up(ctx, op, inst, f"no TLS certificate for {inst.id}: {exc}", cleanup=False)
    if not await keep_held(ctx, batch, "create"):
        return
    log.info("provisioning %d instance(s) in one run: %s", len(batch.members), ", ".join(batch.members))
    result, not_ready = await provision(ctx, batch)
    await restore_clones(ctx, batch, result, not_ready)
    retry_cleanup: list[tuple[Operation, instances.Instance, str]] = []
    for instance_id, (op, inst) in batch.members.items():
        facts = result.facts.get(instance_id)
        decision = create_outcome(result.outcome(instance_id), facts, not_ready.get(instance_id))
        async with ctx.outcome(op, decision.action.value):
            if decision.action is Create.SUCCEEDED and facts:
                await _succeeded(ctx, op, inst, facts, batch.shipments.get(instance_id))
            elif decision.action is Create.MOVE_PORT:
                await _move_port(ctx, op, inst, decision.error or "")
            elif decision.action is Create.MOVE_HOST:
                await _move_host(ctx, op, inst, decision.error or "")
            else:
                retry_cleanup.append((op, inst, decision.error or "failed"))
    if retry_cleanup:
        await _cleanup_and_retry(ctx, retry_cleanup)


async def _succeeded(
    ctx: RunContext,
    op: Operation,
    inst: instances.Instance,
    facts: dict[str, Any],
    shipment: certificates.Shipment | None,
) -> None:
    async with ctx.pool.acquire() as conn, conn.transaction():
        held(await operations.finish(conn, op.lease, "succeeded", facts=facts))
        await instances.set_status(conn, inst.id, "running", only_from=("provisioning",), facts=facts)
    await certificates.confirm(ctx.pool, shipment)
    log.info("instance %s running on %s:%s", inst.id, inst.host, inst.port)


async def _move_port(ctx: RunContext, op: Operation, inst: instances.Instance, error: str) -> None:
    """Something else listens on the port: block it and try the next free one."""
    async with ctx.pool.acquire() as conn, conn.transaction():
        await ctx.fence(conn, op)
        await locks.placement(conn)
        await ports.release(conn, inst.id)
        await ports.block(
            conn,
            inst.host,
            inst.port,
            ctx.settings.port_block_seconds,
            f"in use outside dbvend (seen by {inst.id})",
        )
        host = ctx.hosts[inst.host]
        port = lowest_free_port(host.port_min, host.port_max, await ports.taken(conn, inst.host))
        if port is not None:
            await ports.claim(conn, inst.host, port, inst.id)
            await instances.move(conn, inst.id, inst.host, port)
            held(
                await operations.retry_later(
                    conn,
                    op.lease,
                    0,
                    f"port {inst.port} was in use; moved to {port}",
                    count_attempt=False,
                )
            )
            log.warning(
                "port %s on %s is in use outside dbvend; %s moves to %s",
                inst.port,
                inst.host,
                inst.id,
                port,
            )
            return
    await _give_up(ctx, op, inst, f"no free port left on host {inst.host}")


async def _move_host(ctx: RunContext, op: Operation, inst: instances.Instance, error: str) -> None:
    """The host died under the play: mark it down and retry on another host; what the
    play left behind is removed when the host answers again (HostMonitor)."""
    async with ctx.pool.acquire() as conn, conn.transaction():
        await ctx.fence(conn, op)
        await locks.placement(conn)
        await hosts_repo.set_health(conn, inst.host, up=False, reason=error[:500])
        try:
            new_host, port = await place(conn, inst.memory_mb, exclude=frozenset({inst.host}))
        except NoCapacity:
            new_host, port = None, 0
        if new_host is not None:
            await ports.release(conn, inst.id)
            await hosts_repo.add_cleanup(conn, inst.host, inst.id, "create moved away from a failed host")
            await ports.claim(conn, new_host, port, inst.id)
            await instances.move(conn, inst.id, new_host, port)
            held(
                await operations.retry_later(
                    conn, op.lease, 0, f"host {inst.host} failed ({error[:200]}); moved to {new_host}"
                )
            )
            log.warning("host %s failed under %s; moved to %s:%s", inst.host, inst.id, new_host, port)
            return
    if op.attempts < op.max_attempts:
        # The container the play may have left stays (with the port claim) for the retry
        # on this host; a final failure records its cleanup.
        held(await operations.retry_later(ctx.pool, op.lease, backoff(op.attempts) * 5, error))
    else:
        await _fail(
            ctx, op, inst, f"host {inst.host} failed and no other host can take it: {error}", gone=False
        )


async def _cleanup_and_retry(
    ctx: RunContext, failed: list[tuple[Operation, instances.Instance, str]]
) -> None:
    """Undo the half-made instances, then retry them or, out of attempts, fail them."""
    still = {op.id for op in await ctx.holding([op for op, _, _ in failed], "cleanup")}
    failed = [f for f in failed if f[0].id in still]
    if not failed:
        return
    result = await deprovision(ctx, [inst for _, inst, _ in failed])
    for op, inst, error in failed:
        async with ctx.outcome(op, "failure"):
            if op.attempts < op.max_attempts:
                log.warning(
                    "create %s failed (attempt %d of %d): %s",
                    inst.id,
                    op.attempts,
                    op.max_attempts,
                    error,
                )
                held(await operations.retry_later(ctx.pool, op.lease, backoff(op.attempts), error))
            else:
                await _fail(ctx, op, inst, error, gone=_gone(ctx, inst, result))


def _gone(ctx: RunContext, inst: instances.Instance, result: RunResult | None) -> bool:
    host_known = inst.host in ctx.hosts
    outcome: HostOutcome | None = result.outcome(inst.id) if result and host_known else None
    return container_gone(host_known, outcome)


async def _give_up(
    ctx: RunContext, op: Operation, inst: instances.Instance, error: str, *, cleanup: bool = True
) -> None:
    result = None
    if cleanup:
        if not await ctx.holding([op], "cleanup"):
            return
        result = await deprovision(ctx, [inst])
    await _fail(ctx, op, inst, error, gone=cleanup and _gone(ctx, inst, result))


async def _fail(ctx: RunContext, op: Operation, inst: instances.Instance, error: str, *, gone: bool) -> None:
    """The create failed for good. Its port claim (and so the host's committed memory) is
    released only when the container is known to be gone; otherwise a background cleanup
    (HostMonitor) keeps trying and releases it then."""
    async with ctx.pool.acquire() as conn, conn.transaction():
        held(await operations.finish(conn, op.lease, "failed", error=error))
        if gone:
            await ports.release(conn, inst.id)
        else:
            await hosts_repo.add_cleanup(
                conn, inst.host, inst.id, "create failed; its cleanup did not finish"
            )
        await instances.set_status(conn, inst.id, "failed", error=error)
        await events_repo.insert(conn, failure_event(op, inst, error))
    log.error("create %s failed: %s", inst.id, error)
