"""A periodic job that one service process at a time runs: each round it takes (or keeps)
a named lease in PostgreSQL and, while it holds it, runs the round. A round that fails is
logged and the next one comes on time."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING

from ..db import leases

if TYPE_CHECKING:
    from ..db import Pool


class LeaderJob:
    lease: str  # the lease's name
    task_name: str

    def __init__(self, pool: Pool, *, owner: str) -> None:
        self.pool = pool
        self.owner = owner
        self._task: asyncio.Task[None] | None = None

    def interval(self) -> float:
        raise NotImplementedError

    def lease_seconds(self) -> float:
        """Held past the next round, so a live leader keeps it and a dead one's expires."""
        return self.interval() * 1.5

    async def round(self) -> object:
        raise NotImplementedError

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name=self.task_name)

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _loop(self) -> None:
        while True:
            try:
                if await leases.acquire(self.pool, self.lease, self.owner, self.lease_seconds()):
                    await self.round()
            except Exception:
                logging.getLogger(type(self).__module__).exception("%s round failed", self.task_name)
            await asyncio.sleep(self.interval())
