"""The worker: claims operations, runs them through Ansible in batches, records the end.

Every state change is written before it is acted on; a crash leaves operations whose
lease runs out and which another (or the restarted) worker claims again. The roles are
idempotent, so a re-run converges."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..crypto import SecretBox
from ..db import events as events_repo
from ..db import hosts as hosts_repo
from ..db import instances, operations, ports
from ..db.events import Event
from ..db.operations import Lease, Operation
from ..engines import Credentials, get_engine
from ..inventory import DockerHost
from ..placement import lowest_free_port
from .intake import PLACEMENT_LOCK, NoCapacity, place
from .outcomes import Create, Delete, backoff, container_gone, create_outcome, delete_outcome
from .readiness import NotReady, wait_ready
from .runner import HostOutcome, PlaybookRunner, RunResult, redact

if TYPE_CHECKING:
    from ..config import Settings
    from ..db import Conn, Pool

log = logging.getLogger(__name__)

# The longest a request waits for the rest of its burst before the worker claims it.
BURST_WAIT_SECONDS = 1.5


class LeaseLost(Exception):
    """Another claim of the operation happened since ours: our result is dropped."""


def _held(written: bool) -> None:
    if not written:
        raise LeaseLost


def failure_event(op: Operation, inst: instances.Instance, error: str) -> Event:
    """What monitoring records when an operation fails for good (the error is redacted)."""
    return Event(
        kind="provisioning_failed",
        severity="critical",
        source="worker",
        instance_id=inst.id,
        subject=inst.host,
        message=f"{op.kind} {op.id} of {inst.id} failed: {error}"[:1000],
        details={"operation_id": op.id, "kind": op.kind, "reason": error[:1000], "attempts": op.attempts},
    )


@dataclass
class ProvisionBatch:
    """Instances that go through one provision.yml run, and the secrets to mask in it."""

    members: dict[str, tuple[Operation, instances.Instance]] = field(default_factory=dict)
    hostvars: dict[str, dict[str, Any]] = field(default_factory=dict)
    secrets: list[str] = field(default_factory=list)
    # What a client gets (held in memory only): the readiness check connects with it.
    connections: dict[str, dict[str, Any]] = field(default_factory=dict)


class Worker:
    def __init__(
        self,
        pool: Pool,
        settings: Settings,
        box: SecretBox,
        runner: PlaybookRunner,
        hosts: Mapping[str, DockerHost],
    ) -> None:
        self.pool = pool
        self.settings = settings
        self.box = box
        self.runner = runner
        self.hosts = dict(hosts)
        self.id = settings.worker_id
        self._wake = asyncio.Event()
        self._slots = asyncio.Semaphore(settings.worker_slots)
        self._in_flight: set[Lease] = set()
        self._lost: set[Lease] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._main: asyncio.Task[None] | None = None
        self._heartbeat: asyncio.Task[None] | None = None
        self._listener: Any = None

    # -- lifecycle -------------------------------------------------------------------
    async def start(self) -> None:
        self._listener = await self.pool.acquire()
        await self._listener.add_listener(operations.NOTIFY_CHANNEL, self._on_notify)
        self._main = asyncio.create_task(self._loop(), name="dbvend-worker")
        self._heartbeat = asyncio.create_task(self._renew_leases(), name="dbvend-worker-leases")

    async def stop(self) -> None:
        for task in (self._main, self._heartbeat):
            if task:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        # Let running batches finish: their state is recorded as they end.
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=self.settings.lease_seconds)
        if self._listener is not None:
            with contextlib.suppress(Exception):
                await self._listener.remove_listener(operations.NOTIFY_CHANNEL, self._on_notify)
            await self.pool.release(self._listener)

    def _on_notify(self, _conn: object, _pid: int, _channel: str, payload: str) -> None:
        if payload.startswith("new:"):
            self._wake.set()

    def update_hosts(self, hosts: Mapping[str, DockerHost]) -> None:
        self.hosts = dict(hosts)

    # -- claiming ----------------------------------------------------------------------
    async def _loop(self) -> None:
        while True:
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=1.0)
                await self._gather_burst()
            except TimeoutError:
                pass
            self._wake.clear()
            try:
                await self._claim_while_free()
            except Exception:
                log.exception("claiming operations failed; retrying")
                await asyncio.sleep(1)

    async def _gather_burst(self) -> None:
        """A burst of requests is recorded one after another over a second or so: wait until
        none has come for `batch_window`, at most BURST_WAIT_SECONDS, so that it becomes one
        Ansible run instead of one per fragment."""
        loop = asyncio.get_running_loop()
        give_up = loop.time() + BURST_WAIT_SECONDS
        while loop.time() < give_up:
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=self.settings.batch_window)
            except TimeoutError:
                return

    async def _claim_while_free(self) -> None:
        while True:
            await self._slots.acquire()
            try:
                ops = await operations.claim(
                    self.pool, self.id, self.settings.lease_seconds, self.settings.batch_size
                )
            except BaseException:
                self._slots.release()
                raise
            if not ops:
                self._slots.release()
                return
            self._in_flight.update(op.lease for op in ops)
            task = asyncio.create_task(self._run_batch(ops))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _renew_leases(self) -> None:
        while True:
            await asyncio.sleep(self.settings.lease_seconds / 3)
            if self._in_flight:
                try:
                    await self._hold(list(self._in_flight))
                except Exception:
                    log.exception("renewing leases failed")

    async def _hold(self, leases: list[Lease]) -> set[Lease]:
        """Renew these leases now (fenced); returns the ones still ours. Called before
        anything that acts on a host, so a worker that lost its lease does not act."""
        held = await operations.renew(self.pool, leases, self.settings.lease_seconds)
        for lease in set(leases) - held - self._lost:
            self._lost.add(lease)
            log.warning(
                "operation %s: lease (generation %d) lost to another claim",
                lease.operation_id,
                lease.generation,
            )
        return held

    async def _holding(self, ops: list[Operation], what: str) -> list[Operation]:
        held = await self._hold([op.lease for op in ops])
        for op in ops:
            if op.lease not in held:
                self._dropped(op, what)
        return [op for op in ops if op.lease in held]

    def _dropped(self, op: Operation, what: str) -> None:
        log.warning(
            "operation %s (%s of %s): lease lost to another claim, dropping this worker's %s result",
            op.id,
            op.kind,
            op.instance_id,
            what,
        )

    @contextlib.asynccontextmanager
    async def _outcome(self, op: Operation, what: str) -> AsyncIterator[None]:
        """Where a fenced write finds the lease gone: nothing was written, nothing more is done."""
        try:
            yield
        except LeaseLost:
            self._dropped(op, what)

    async def _run_batch(self, ops: list[Operation]) -> None:
        try:
            creates = [op for op in ops if op.kind == "create"]
            deletes = [op for op in ops if op.kind == "delete"]
            repairs = [op for op in ops if op.kind == "repair"]
            await asyncio.gather(self._creates(creates), self._deletes(deletes), self._repairs(repairs))
        except Exception:
            log.exception("a batch of %d operations failed unexpectedly; their leases will expire", len(ops))
        finally:
            self._in_flight.difference_update(op.lease for op in ops)
            self._lost.difference_update(op.lease for op in ops)
            self._slots.release()
            self._wake.set()  # more may be waiting

    # -- creates -----------------------------------------------------------------------
    def _enlist(
        self, batch: ProvisionBatch, op: Operation, inst: instances.Instance, host: DockerHost
    ) -> None:
        """Adds the instance to the run as its own inventory host, with its role variables."""
        engine = get_engine(inst.engine)
        creds = Credentials.from_secrets(inst.username, self.box.open(inst.secrets))
        settings = engine.settings_model.model_validate(inst.settings)
        batch.hostvars[inst.id] = {
            **host.variables,
            "engine": inst.engine,
            "instance_id": inst.id,
            "port": inst.port,
            "dbvend_host_name": host.name,
            # The worker waits for the server itself (readiness.py), not the play.
            "dbvend_wait_ready": False,
            **engine.role_vars(settings, creds),
        }
        batch.secrets.extend((creds.password, creds.admin_password))
        batch.members[inst.id] = (op, inst)
        batch.connections[inst.id] = engine.connection(settings, creds, host.address, inst.port)

    async def _await_ready(self, batch: ProvisionBatch, result: RunResult) -> dict[str, str]:
        """Connects to every instance the play started, all at once, as its user will; the
        server version goes into its facts. Returns why each one that did not answer failed."""
        not_ready: dict[str, str] = {}

        async def check(instance_id: str, engine: str) -> None:
            facts = result.facts[instance_id]
            try:
                facts["server_version"] = await wait_ready(
                    engine, batch.connections[instance_id], self.settings.ready_timeout
                )
            except NotReady as exc:
                not_ready[instance_id] = redact(str(exc), batch.secrets)

        await asyncio.gather(
            *(
                check(instance_id, inst.engine)
                for instance_id, (_, inst) in batch.members.items()
                if result.outcome(instance_id).ok and result.facts.get(instance_id)
            )
        )
        return not_ready

    async def _creates(self, ops: list[Operation]) -> None:
        if not ops:
            return
        batch = ProvisionBatch()
        for op in ops:
            async with self._outcome(op, "create"):
                inst = await instances.get_any(self.pool, op.instance_id)
                if inst is None or inst.status != "provisioning":
                    error = "superseded: the instance is no longer being provisioned"
                    _held(await operations.finish(self.pool, op.lease, "failed", error=error))
                    continue
                host = self.hosts.get(inst.host)
                if host is None:
                    await self._give_up(
                        op, inst, f"host {inst.host!r} is not in the inventory", cleanup=False
                    )
                    continue
                if op.attempts > op.max_attempts:
                    await self._give_up(
                        op, inst, f"gave up after {op.max_attempts} attempts: {op.error or 'interrupted'}"
                    )
                    continue
                self._enlist(batch, op, inst, host)
        if not await self._keep_held(batch, "create"):
            return
        log.info("provisioning %d instance(s) in one run: %s", len(batch.members), ", ".join(batch.members))
        result = await self.runner.run("provision.yml", batch.hostvars, secrets=batch.secrets)
        not_ready = await self._await_ready(batch, result)
        retry_cleanup: list[tuple[Operation, instances.Instance, str]] = []
        for instance_id, (op, inst) in batch.members.items():
            facts = result.facts.get(instance_id)
            decision = create_outcome(result.outcome(instance_id), facts, not_ready.get(instance_id))
            async with self._outcome(op, decision.action.value):
                if decision.action is Create.SUCCEEDED and facts:
                    await self._succeeded(op, inst, facts)
                elif decision.action is Create.MOVE_PORT:
                    await self._move_port(op, inst, decision.error or "")
                elif decision.action is Create.MOVE_HOST:
                    await self._move_host(op, inst, decision.error or "")
                else:
                    retry_cleanup.append((op, inst, decision.error or "failed"))
        if retry_cleanup:
            await self._cleanup_and_retry(retry_cleanup)

    async def _keep_held(self, batch: ProvisionBatch, what: str) -> bool:
        """Right before the play: drop members whose lease is gone (the worker slept past it)."""
        if not batch.members:
            return False
        held = await self._holding([op for op, _ in batch.members.values()], what)
        keep = {op.id for op in held}
        for instance_id, (op, _) in list(batch.members.items()):
            if op.id not in keep:
                del batch.members[instance_id]
                del batch.hostvars[instance_id]
                del batch.connections[instance_id]
        return bool(batch.members)

    async def _succeeded(self, op: Operation, inst: instances.Instance, facts: dict[str, Any]) -> None:
        async with self.pool.acquire() as conn, conn.transaction():
            _held(await operations.finish(conn, op.lease, "succeeded", facts=facts))
            await instances.set_status(conn, inst.id, "running", only_from=("provisioning",), facts=facts)
        log.info("instance %s running on %s:%s", inst.id, inst.host, inst.port)

    async def _fence(self, conn: Conn, op: Operation) -> None:
        """For a transaction that changes placement before the operation's own row: it holds
        only while the lease does (the renewal locks the operation row until commit)."""
        _held(bool(await operations.renew(conn, [op.lease], self.settings.lease_seconds)))

    async def _move_port(self, op: Operation, inst: instances.Instance, error: str) -> None:
        """Something else listens on the port: block it and try the next free one."""
        async with self.pool.acquire() as conn, conn.transaction():
            await self._fence(conn, op)
            await conn.execute("SELECT pg_advisory_xact_lock($1)", PLACEMENT_LOCK)
            await ports.release(conn, inst.id)
            await ports.block(
                conn,
                inst.host,
                inst.port,
                self.settings.port_block_seconds,
                f"in use outside dbvend (seen by {inst.id})",
            )
            host = self.hosts[inst.host]
            port = lowest_free_port(host.port_min, host.port_max, await ports.taken(conn, inst.host))
            if port is not None:
                await ports.claim(conn, inst.host, port, inst.id)
                await instances.move(conn, inst.id, inst.host, port)
                _held(
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
        await self._give_up(op, inst, f"no free port left on host {inst.host}")

    async def _move_host(self, op: Operation, inst: instances.Instance, error: str) -> None:
        """The host died under the play: mark it down and retry on another host; what the
        play left behind is removed when the host answers again (HostMonitor)."""
        async with self.pool.acquire() as conn, conn.transaction():
            await self._fence(conn, op)
            await conn.execute("SELECT pg_advisory_xact_lock($1)", PLACEMENT_LOCK)
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
                _held(
                    await operations.retry_later(
                        conn, op.lease, 0, f"host {inst.host} failed ({error[:200]}); moved to {new_host}"
                    )
                )
                log.warning("host %s failed under %s; moved to %s:%s", inst.host, inst.id, new_host, port)
                return
        if op.attempts < op.max_attempts:
            # The container the play may have left stays (with the port claim) for the retry
            # on this host; a final failure records its cleanup.
            _held(await operations.retry_later(self.pool, op.lease, backoff(op.attempts) * 5, error))
        else:
            await self._fail(
                op, inst, f"host {inst.host} failed and no other host can take it: {error}", gone=False
            )

    async def _cleanup_and_retry(self, failed: list[tuple[Operation, instances.Instance, str]]) -> None:
        """Undo the half-made instances, then retry them or, out of attempts, fail them."""
        held = {op.id for op in await self._holding([op for op, _, _ in failed], "cleanup")}
        failed = [f for f in failed if f[0].id in held]
        if not failed:
            return
        result = await self._deprovision([inst for _, inst, _ in failed])
        for op, inst, error in failed:
            async with self._outcome(op, "failure"):
                if op.attempts < op.max_attempts:
                    log.warning(
                        "create %s failed (attempt %d of %d): %s",
                        inst.id,
                        op.attempts,
                        op.max_attempts,
                        error,
                    )
                    _held(await operations.retry_later(self.pool, op.lease, backoff(op.attempts), error))
                else:
                    await self._fail(op, inst, error, gone=self._gone(inst, result))

    def _gone(self, inst: instances.Instance, result: RunResult | None) -> bool:
        host_known = inst.host in self.hosts
        outcome: HostOutcome | None = result.outcome(inst.id) if result and host_known else None
        return container_gone(host_known, outcome)

    async def _give_up(
        self, op: Operation, inst: instances.Instance, error: str, *, cleanup: bool = True
    ) -> None:
        result = None
        if cleanup:
            if not await self._holding([op], "cleanup"):
                return
            result = await self._deprovision([inst])
        await self._fail(op, inst, error, gone=cleanup and self._gone(inst, result))

    async def _fail(self, op: Operation, inst: instances.Instance, error: str, *, gone: bool) -> None:
        """The create failed for good. Its port claim (and so the host's committed memory) is
        released only when the container is known to be gone; otherwise a background cleanup
        (HostMonitor) keeps trying and releases it then."""
        async with self.pool.acquire() as conn, conn.transaction():
            _held(await operations.finish(conn, op.lease, "failed", error=error))
            if gone:
                await ports.release(conn, inst.id)
            else:
                await hosts_repo.add_cleanup(
                    conn, inst.host, inst.id, "create failed; its cleanup did not finish"
                )
            await instances.set_status(conn, inst.id, "failed", error=error)
            await events_repo.insert(conn, failure_event(op, inst, error))
        log.error("create %s failed: %s", inst.id, error)

    async def _deprovision(self, insts: list[instances.Instance]) -> RunResult | None:
        hostvars = {}
        for inst in insts:
            host = self.hosts.get(inst.host)
            if host is None:
                continue
            hostvars[inst.id] = {
                **host.variables,
                "engine": inst.engine,
                "instance_id": inst.id,
                "dbvend_host_name": host.name,
            }
        if not hostvars:
            return None
        return await self.runner.run("deprovision.yml", hostvars)

    # -- deletes -----------------------------------------------------------------------
    async def _deletes(self, ops: list[Operation]) -> None:
        if not ops:
            return
        targets: dict[str, tuple[Operation, instances.Instance]] = {}
        for op in ops:
            async with self._outcome(op, "delete"):
                inst = await instances.get_any(self.pool, op.instance_id)
                if inst is None or inst.status == "deleted":
                    _held(await operations.finish(self.pool, op.lease, "succeeded"))
                    continue
                targets[inst.id] = (op, inst)
        held = {op.id for op in await self._holding([op for op, _ in targets.values()], "delete")}
        targets = {iid: t for iid, t in targets.items() if t[0].id in held}
        if not targets:
            return
        result = await self._deprovision([inst for _, inst in targets.values()])
        for instance_id, (op, inst) in targets.items():
            host_known = inst.host in self.hosts
            outcome = result.outcome(instance_id) if result and host_known else None
            decision = delete_outcome(host_known, outcome, op.attempts, op.max_attempts)
            async with self._outcome(op, f"delete ({decision.action.value})"):
                await self._record_delete(op, inst, decision.action, decision.error or "")

    async def _record_delete(
        self, op: Operation, inst: instances.Instance, action: Delete, error: str
    ) -> None:
        if action is Delete.RETRY:
            _held(await operations.retry_later(self.pool, op.lease, backoff(op.attempts), error))
            return
        async with self.pool.acquire() as conn, conn.transaction():
            if action is Delete.DELETED:
                _held(await operations.finish(conn, op.lease, "succeeded"))
                await ports.release(conn, inst.id)
                await hosts_repo.cleanup_done(conn, inst.host, [inst.id])
                await instances.mark_deleted(conn, inst.id)
                log.info("instance %s deleted", inst.id)
            elif action is Delete.DEFERRED:
                # The host is down: the delete completes for the user now; the container and
                # the port claim (which keeps the memory committed) go when the host answers.
                _held(await operations.finish(conn, op.lease, "succeeded", facts={"cleanup": "pending host"}))
                await hosts_repo.set_health(conn, inst.host, up=False, reason=error[:500])
                await hosts_repo.add_cleanup(conn, inst.host, inst.id, "deleted while the host was down")
                await instances.mark_deleted(conn, inst.id)
                log.warning("instance %s deleted while %s is down; cleanup deferred", inst.id, inst.host)
            elif action is Delete.REFUSED:
                # The host left the inventory after the delete was accepted: nothing can be
                # undone there, so nothing is marked deleted (the port claim stays).
                error = f"host {inst.host!r} is not in the inventory; the delete was not done"
                previous = str(op.params.get("previous_status"))
                previous = previous if previous in ("running", "stopped", "failed") else "failed"
                _held(await operations.finish(conn, op.lease, "failed", error=error))
                await instances.set_status(conn, inst.id, previous, only_from=("deleting",), error=error)
                log.error("delete of %s refused: %s", inst.id, error)
            else:
                error = f"delete failed: {error}"
                _held(await operations.finish(conn, op.lease, "failed", error=error))
                await instances.set_status(conn, inst.id, "failed", error=error)
                await events_repo.insert(conn, failure_event(op, inst, error))

    # -- repairs (queued by monitoring's reconciliation) -------------------------------
    async def _repairs(self, ops: list[Operation]) -> None:
        """Start the container of a running instance again: provision.yml converges it
        (state: started). The instance stays `running`; only its facts are refreshed."""
        if not ops:
            return
        batch = ProvisionBatch()
        for op in ops:
            async with self._outcome(op, "repair"):
                inst = await instances.get_any(self.pool, op.instance_id)
                host = self.hosts.get(inst.host) if inst is not None else None
                if inst is None or inst.status != "running" or host is None:
                    error = "superseded: the instance is no longer running here"
                    _held(await operations.finish(self.pool, op.lease, "failed", error=error))
                    continue
                self._enlist(batch, op, inst, host)
        if not await self._keep_held(batch, "repair"):
            return
        log.info(
            "repairing %d instance(s) with provision.yml: %s", len(batch.members), ", ".join(batch.members)
        )
        result = await self.runner.run("provision.yml", batch.hostvars, secrets=batch.secrets)
        not_ready = await self._await_ready(batch, result)
        for instance_id, (op, inst) in batch.members.items():
            async with self._outcome(op, "repair"):
                await self._repaired(op, inst, result, not_ready.get(instance_id))

    async def _repaired(
        self, op: Operation, inst: instances.Instance, result: RunResult, not_ready: str | None
    ) -> None:
        facts = result.facts.get(inst.id)
        decision = create_outcome(result.outcome(inst.id), facts, not_ready)
        if decision.action is Create.SUCCEEDED and facts:
            async with self.pool.acquire() as conn, conn.transaction():
                _held(await operations.finish(conn, op.lease, "succeeded", facts=facts))
                await instances.set_status(conn, inst.id, "running", only_from=("running",), facts=facts)
                await events_repo.insert(
                    conn,
                    Event(
                        kind="instance_repaired",
                        severity="warning",
                        source="worker",
                        instance_id=inst.id,
                        subject=inst.host,
                        message=f"container of {inst.id} started again by reconciliation (operation {op.id})",
                        details={"operation_id": op.id, "reason": op.params.get("reason")},
                    ),
                )
            log.warning("instance %s: container started again (repair %s)", inst.id, op.id)
            return
        error = decision.error or "the playbook reported no facts for this instance"
        if op.attempts < op.max_attempts:
            _held(await operations.retry_later(self.pool, op.lease, backoff(op.attempts), error))
            return
        async with self.pool.acquire() as conn, conn.transaction():
            _held(await operations.finish(conn, op.lease, "failed", error=error))
            await events_repo.insert(conn, failure_event(op, inst, error))
        log.error("repair %s of %s failed: %s", op.id, inst.id, error)
