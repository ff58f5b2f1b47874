"""What the day-2 kinds (stop, start, restart, reconfigure, rotate) share: the instance as
the play sees it, one run for the batch, the readiness check, and the outcome recorded.

A kind says which playbook it runs, which status the instance must have, the variables of
its play (`plan`) and what a success writes to the instance's row (`succeeded`). On any
other end the row stays as it was. Every play is idempotent, so an operation whose worker
died is simply run again by the next claim."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from ...db import events as events_repo
from ...db import instances, operations
from ...db.tls_authorities import bundle_pem
from ...engines import Credentials, SettingsError, get_engine
from ...engines.base import TLS_OFF, tls_mode
from ...tls import TlsError
from .. import certificates
from ..outcomes import Action, action_outcome, backoff, gave_up
from .base import RunContext, held, log
from .shared import ProvisionBatch, await_ready, failure_event, keep_held

if TYPE_CHECKING:
    from pydantic import BaseModel

    from ...db import Conn
    from ...db.operations import Operation
    from ...inventory import DockerHost
    from ..runner import RunResult


class Refused(Exception):
    """The operation cannot run as recorded (its settings no longer validate, its secrets
    are gone): it fails at once, the instance unchanged."""


@dataclass
class Plan:
    """One instance's part of the run: its settings and the credentials valid after it."""

    settings: BaseModel
    credentials: Credentials
    extra_vars: dict[str, Any] = field(default_factory=dict)
    secrets: tuple[str, ...] = ()
    data: dict[str, Any] = field(default_factory=dict)  # what succeeded() needs
    # What the readiness check connects with; None: the application account (a bind's is
    # the new user's, so the check proves the new credential works).
    connection: dict[str, Any] | None = None
    # A certificate the play ships (rotate-certificate; TLS switched on), confirmed current
    # when the operation succeeds.
    shipment: certificates.Shipment | None = None
    # False: no readiness check for this instance (a stopped server given a certificate).
    check_ready: bool = True


@dataclass(frozen=True)
class Done:
    """A success as its kind records it, in the transaction (`conn`) that ends the operation."""

    ctx: RunContext
    conn: Conn
    op: Operation
    inst: instances.Instance
    plan: Plan
    facts: dict[str, Any]


class Day2Kind:
    name: str
    playbook: ClassVar[str]
    runs_from: ClassVar[tuple[str, ...]] = ("running",)
    wait_ready: ClassVar[bool] = True

    async def plan(self, ctx: RunContext, op: Operation, inst: instances.Instance) -> Plan:
        engine = get_engine(inst.engine)
        creds = Credentials.from_secrets(inst.username, ctx.box.open(inst.secrets))
        return Plan(engine.load_settings(inst.settings), creds)

    async def succeeded(self, done: Done) -> None:
        """Write the new state of the instance (in the transaction that ends the operation)."""
        await instances.set_status(
            done.conn, done.inst.id, "running", only_from=self.runs_from, facts=done.facts
        )

    async def undo_plan(
        self, ctx: RunContext, op: Operation, inst: instances.Instance
    ) -> tuple[str, Plan] | None:
        """Before failing for good: the playbook and variables that bring the instance back to
        what its row still records (the play may have got part of the way), or None."""
        return None

    def facts_of(self, result: RunResult, instance_id: str) -> dict[str, Any] | None:
        """What the play reported for the instance (its set_stats key)."""
        return result.facts.get(instance_id)

    async def settle(
        self, ctx: RunContext, op: Operation, inst: instances.Instance, plan: Plan, facts: dict[str, Any]
    ) -> str | None:
        """After a play that succeeded, before its success is recorded: the service's own part
        (a backup's file into the store). Returns why it failed (retried like the play), or None."""
        return None

    def failure_note(self, result: RunResult, instance_id: str) -> str:
        """Appended to the error of a failed play (a restore says which data the instance has)."""
        return ""

    async def failed(self, ctx: RunContext, conn: Conn, op: Operation, error: str) -> None:
        """In the transaction that fails the operation for good (a backup's row fails with it)."""

    def release(self, ctx: RunContext, plans: dict[str, Plan]) -> None:
        """After the batch, however it ended (a backup's staging files go)."""

    async def _superseded(self, ctx: RunContext, op: Operation, error: str) -> None:
        async with ctx.pool.acquire() as conn, conn.transaction():
            held(await operations.finish(conn, op.lease, "failed", error=error))
            await self.failed(ctx, conn, op, error)

    async def run(self, ctx: RunContext, ops: list[Operation]) -> None:
        batch = ProvisionBatch()
        plans: dict[str, Plan] = {}
        given_up: list[tuple[Operation, instances.Instance, str]] = []
        bundle = await bundle_pem(ctx.pool)  # what readiness verifies TLS instances with
        for op in ops:
            async with ctx.outcome(op, self.name):
                inst = await instances.get_any(ctx.pool, op.instance_id)
                host = ctx.hosts.get(inst.host) if inst is not None else None
                if inst is None or inst.status not in self.runs_from or host is None:
                    status = inst.status if inst is not None else "gone"
                    error = (
                        f"superseded: the instance is {status}; a {self.name} needs it {self.runs_from[0]}"
                    )
                    if inst is not None and host is None:
                        error = f"host {inst.host!r} is not in the inventory; the {self.name} was not done"
                    await self._superseded(ctx, op, error)
                    continue
                if gave_up(op.attempts, op.max_attempts):
                    given_up.append(
                        (op, inst, f"gave up after {op.max_attempts} attempts: {op.error or 'interrupted'}")
                    )
                    continue
                try:
                    plan = await self.plan(ctx, op, inst)
                except (Refused, SettingsError, TlsError, LookupError) as exc:
                    await self._fail(ctx, op, inst, f"{self.name} refused: {exc}")
                    continue
                plans[inst.id] = plan
                _enlist(batch, op, inst, host, plan, bundle)
        try:
            await self._run_planned(ctx, batch, plans, given_up)
        finally:
            self.release(ctx, plans)

    async def _run_planned(
        self,
        ctx: RunContext,
        batch: ProvisionBatch,
        plans: dict[str, Plan],
        given_up: list[tuple[Operation, instances.Instance, str]],
    ) -> None:
        if given_up:
            await self._give_up(ctx, given_up)
        if not await keep_held(ctx, batch, self.name):
            return
        log.info("%s of %d instance(s): %s", self.name, len(batch.members), ", ".join(batch.members))
        result = await ctx.runner.run(self.playbook, batch.hostvars, secrets=batch.secrets)
        not_ready = await await_ready(ctx, batch, result) if self.wait_ready else {}
        failed: list[tuple[Operation, instances.Instance, str]] = []
        for instance_id, (op, inst) in batch.members.items():
            facts = self.facts_of(result, instance_id)
            decision = action_outcome(
                result.outcome(instance_id), facts, not_ready.get(instance_id), op.attempts, op.max_attempts
            )
            if decision.action is Action.SUCCEEDED and facts:
                problem = await self.settle(ctx, op, inst, plans[instance_id], facts)
                if problem is not None:
                    decision = action_outcome(
                        result.outcome(instance_id), None, problem, op.attempts, op.max_attempts
                    )
            elif decision.error is not None:
                decision = type(decision)(
                    decision.action, decision.error + self.failure_note(result, instance_id)
                )
            async with ctx.outcome(op, f"{self.name} ({decision.action.value})"):
                error = decision.error or ""
                if decision.action is Action.SUCCEEDED and facts:
                    await self._succeeded(ctx, op, inst, plans[instance_id], _merged(inst, facts))
                elif decision.action is Action.RETRY:
                    log.warning(
                        "%s %s of %s failed (attempt %d of %d): %s",
                        self.name,
                        op.id,
                        inst.id,
                        op.attempts,
                        op.max_attempts,
                        error,
                    )
                    held(await operations.retry_later(ctx.pool, op.lease, backoff(op.attempts), error))
                else:
                    failed.append((op, inst, error))
        if failed:
            await self._give_up(ctx, failed)

    async def _succeeded(
        self, ctx: RunContext, op: Operation, inst: instances.Instance, plan: Plan, facts: dict[str, Any]
    ) -> None:
        async with ctx.pool.acquire() as conn, conn.transaction():
            held(await operations.finish(conn, op.lease, "succeeded", facts=_public(facts)))
            await self.succeeded(Done(ctx, conn, op, inst, plan, facts))
        await certificates.confirm(ctx.pool, plan.shipment)
        log.info("%s of %s succeeded (operation %s)", self.name, inst.id, op.id)

    async def _give_up(
        self, ctx: RunContext, failed: list[tuple[Operation, instances.Instance, str]]
    ) -> None:
        still = {op.id for op in await ctx.holding([op for op, _, _ in failed], f"{self.name} undo")}
        failed = [f for f in failed if f[0].id in still]
        if not failed:
            return
        await self._undo(ctx, failed)
        for op, inst, error in failed:
            async with ctx.outcome(op, f"{self.name} (failed)"):
                await self._fail(ctx, op, inst, error)

    async def _undo(self, ctx: RunContext, failed: list[tuple[Operation, instances.Instance, str]]) -> None:
        """Best effort: what does not undo is logged, and the operation still fails."""
        batches: dict[str, ProvisionBatch] = {}
        bundle = await bundle_pem(ctx.pool)
        for op, inst, _ in failed:
            host = ctx.hosts.get(inst.host)
            try:
                found = await self.undo_plan(ctx, op, inst) if host is not None else None
            except (Refused, SettingsError):
                found = None
            if found is not None and host is not None:
                _enlist(batches.setdefault(found[0], ProvisionBatch()), op, inst, host, found[1], bundle)
        for playbook, batch in batches.items():
            result = await ctx.runner.run(playbook, batch.hostvars, secrets=batch.secrets)
            for instance_id in batch.members:
                outcome = result.outcome(instance_id)
                if not outcome.ok:
                    log.error("undoing the %s of %s failed: %s", self.name, instance_id, outcome.error)

    async def _fail(self, ctx: RunContext, op: Operation, inst: instances.Instance, error: str) -> None:
        error = f"{error}; the instance stays {inst.status}"
        async with ctx.pool.acquire() as conn, conn.transaction():
            held(await operations.finish(conn, op.lease, "failed", error=error))
            await self.failed(ctx, conn, op, error)
            await events_repo.insert(conn, failure_event(op, inst, error))
        log.error("%s %s of %s failed: %s", self.name, op.id, inst.id, error)


def _enlist(
    batch: ProvisionBatch, op: Operation, inst: instances.Instance, host: DockerHost, plan: Plan, bundle: str
) -> None:
    """The instance as its own inventory host, with the same variables a create passes (and
    the certificate the plan ships; without one the role keeps the instance's files)."""
    engine = get_engine(inst.engine)
    creds = plan.credentials
    batch.hostvars[inst.id] = {
        **host.variables,
        "engine": inst.engine,
        "instance_id": inst.id,
        "port": inst.port,
        "dbvend_host_name": host.name,
        "dbvend_wait_ready": False,
        **engine.role_vars(plan.settings, creds),
        **plan.extra_vars,
    }
    batch.secrets.extend((creds.password, creds.admin_password, *plan.secrets))
    batch.members[inst.id] = (op, inst)
    batch.connections[inst.id] = plan.connection or engine.connection(
        plan.settings, creds, host.address, inst.port
    )
    if not plan.check_ready:
        batch.unchecked.add(inst.id)
    if plan.shipment is not None:
        batch.ship(inst.id, plan.shipment)
    elif tls_mode(plan.settings) != TLS_OFF:
        batch.tls_ca[inst.id] = bundle


def _merged(inst: instances.Instance, facts: dict[str, Any]) -> dict[str, Any]:
    """A day-2 play reports part of what a create did: keep the rest (image, version, ...)."""
    return {**inst.facts, **{k: v for k, v in facts.items() if v is not None}}


def _public(facts: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in facts.items() if k not in ("password", "admin_password")}
