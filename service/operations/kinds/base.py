"""What every operation kind gets from the worker, and the one method it must have.

A kind's `run` receives the operations of its kind from one claimed batch. Everything it
records is fenced by the operation's lease (db/operations.py): a write that finds the
lease gone raises LeaseLost, and `RunContext.outcome` turns that into "drop this result"."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Mapping
from typing import TYPE_CHECKING, Protocol

from ...db import operations
from ...db.operations import Lease, Operation

if TYPE_CHECKING:
    from ...config import Settings
    from ...crypto import SecretBox
    from ...db import Conn, Pool
    from ...inventory import DockerHost
    from ..runner import PlaybookRunner

# Every kind logs as the worker did before the split, so log filters keep working.
log = logging.getLogger("service.operations.worker")


class LeaseLost(Exception):
    """Another claim of the operation happened since ours: our result is dropped."""


def held(written: bool) -> None:
    """After a fenced write: nothing written means the lease is gone."""
    if not written:
        raise LeaseLost


class RunContext:
    """The worker's parts a kind uses, and the lease checks around its writes."""

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
        # Replaced (never mutated) when the inventory is reloaded; kinds read it live.
        self.hosts = dict(hosts)
        self._lost: set[Lease] = set()

    async def hold(self, leases: list[Lease]) -> set[Lease]:
        """Renew these leases now (fenced); returns the ones still ours. Called before
        anything that acts on a host, so a worker that lost its lease does not act."""
        still = await operations.renew(self.pool, leases, self.settings.lease_seconds)
        for lease in set(leases) - still - self._lost:
            self._lost.add(lease)
            log.warning(
                "operation %s: lease (generation %d) lost to another claim",
                lease.operation_id,
                lease.generation,
            )
        return still

    def forget(self, leases: list[Lease]) -> None:
        """The batch holding these leases has ended."""
        self._lost.difference_update(leases)

    async def holding(self, ops: list[Operation], what: str) -> list[Operation]:
        still = await self.hold([op.lease for op in ops])
        for op in ops:
            if op.lease not in still:
                self.dropped(op, what)
        return [op for op in ops if op.lease in still]

    def dropped(self, op: Operation, what: str) -> None:
        log.warning(
            "operation %s (%s of %s): lease lost to another claim, dropping this worker's %s result",
            op.id,
            op.kind,
            op.instance_id,
            what,
        )

    @contextlib.asynccontextmanager
    async def outcome(self, op: Operation, what: str) -> AsyncIterator[None]:
        """Where a fenced write finds the lease gone: nothing was written, nothing more is done."""
        try:
            yield
        except LeaseLost:
            self.dropped(op, what)

    async def fence(self, conn: Conn, op: Operation) -> None:
        """For a transaction that changes placement before the operation's own row: it holds
        only while the lease does (the renewal locks the operation row until commit)."""
        held(bool(await operations.renew(conn, [op.lease], self.settings.lease_seconds)))


class OperationKind(Protocol):
    """One kind of operation (`operations.kind`): create, delete, repair, ..."""

    name: str

    async def run(self, ctx: RunContext, ops: list[Operation]) -> None:
        """Run these operations (all of this kind, from one batch) and record each end."""
        ...
