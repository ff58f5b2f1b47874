"""The worker: claims operations, hands each kind its share of the batch, renews the leases.

Every state change is written before it is acted on; a crash leaves operations whose
lease runs out and which another (or the restarted) worker claims again. The roles are
idempotent, so a re-run converges. What each kind does lives in kinds/."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..db import operations
from ..db.operations import Lease, Operation
from ..tasks import Guarded
from .kinds import KINDS, OperationKind, RunContext
from .kinds.base import held

if TYPE_CHECKING:
    from ..config import Settings
    from ..crypto import SecretBox
    from ..db import Pool
    from ..inventory import DockerHost
    from .runner import PlaybookRunner

log = logging.getLogger(__name__)

# The longest a request waits for the rest of its burst before the worker claims it.
BURST_WAIT_SECONDS = 1.5


class Worker:
    def __init__(
        self,
        pool: Pool,
        settings: Settings,
        box: SecretBox,
        runner: PlaybookRunner,
        hosts: Mapping[str, DockerHost],
        *,
        kinds: Mapping[str, OperationKind] = KINDS,
    ) -> None:
        self.pool = pool
        self.settings = settings
        self.ctx = RunContext(pool, settings, box, runner, hosts)
        self.kinds = dict(kinds)
        self.id = settings.worker_id
        self._wake = asyncio.Event()
        self._slots = asyncio.Semaphore(settings.worker_slots)
        self._in_flight: set[Lease] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self.loops = Guarded(log)
        self._listener: Any = None

    @property
    def hosts(self) -> dict[str, DockerHost]:
        return self.ctx.hosts

    # -- lifecycle -------------------------------------------------------------------
    async def start(self) -> None:
        listener: Any = await self.pool.acquire()
        try:
            await listener.add_listener(operations.NOTIFY_CHANNEL, self._on_notify)
        except BaseException:
            await self.pool.release(listener)
            raise
        self._listener = listener
        self.loops.loop(
            "dbvend-worker",
            self._claim_round,
            every=lambda: 1.0,
            failure="claiming operations failed; retrying",
        )
        self.loops.loop(
            "dbvend-worker-leases",
            self._renew_leases,
            every=lambda: self.settings.lease_seconds / 3,
            failure="renewing leases failed",
        )

    async def stop(self) -> None:
        await self.loops.stop()
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
        self.ctx.hosts = dict(hosts)

    # -- claiming ----------------------------------------------------------------------
    async def _claim_round(self) -> float:
        """Wait for a notification (or a second), then claim while there are free slots."""
        try:
            await asyncio.wait_for(self._wake.wait(), timeout=1.0)
            await self._gather_burst()
        except TimeoutError:
            pass
        self._wake.clear()
        await self._claim_while_free()
        return 0.0

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
                    self.pool,
                    self.id,
                    self.settings.lease_seconds,
                    self.settings.batch_size,
                    kinds=sorted(self.kinds),
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
        if self._in_flight:
            await self.ctx.hold(list(self._in_flight))

    # -- dispatch ----------------------------------------------------------------------
    async def _run_batch(self, ops: list[Operation]) -> None:
        try:
            await self.dispatch(ops)
        finally:
            leases = [op.lease for op in ops]
            self._in_flight.difference_update(leases)
            self.ctx.forget(leases)
            self._slots.release()
            self._wake.set()  # more may be waiting

    async def dispatch(self, ops: list[Operation]) -> None:
        """Each kind runs its share of the batch, all kinds at once. A kind that fails
        unexpectedly is logged and leaves its operations to lease expiry; the others go on."""
        by_kind: dict[str, list[Operation]] = {}
        for op in ops:
            by_kind.setdefault(op.kind, []).append(op)
        names = list(by_kind)
        results = await asyncio.gather(
            *(self._run_kind(name, by_kind[name]) for name in names), return_exceptions=True
        )
        for name, result in zip(names, results, strict=True):
            if isinstance(result, Exception):
                log.error(
                    "%d %s operation(s) failed unexpectedly; their leases will expire",
                    len(by_kind[name]),
                    name,
                    exc_info=result,
                )
            elif isinstance(result, BaseException):
                raise result

    async def _run_kind(self, name: str, ops: list[Operation]) -> None:
        kind = self.kinds.get(name)
        if kind is not None:
            await kind.run(self.ctx, ops)
            return
        # Claims take only known kinds, so this is a registry changed under a claim: end
        # the operation clearly rather than leave it to be claimed again and again.
        error = f"unknown operation kind {name!r}; this worker runs: {', '.join(sorted(self.kinds))}"
        for op in ops:
            async with self.ctx.outcome(op, "unknown kind"):
                held(await operations.finish(self.pool, op.lease, "failed", error=error))
                log.error("operation %s of %s: %s", op.id, op.instance_id, error)
