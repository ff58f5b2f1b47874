"""Background tasks, guarded (kopf's idea): every loop of a process runs as a named task of a
Guarded set, so a crash is logged rather than lost and stop() cancels and awaits every one;
repeat() is the loop itself (a pass that fails is logged and the next one comes on time);
LeaderJob is a loop that runs its rounds only while it holds a named lease in PostgreSQL, so
one process at a time leads (host health, retention, backup schedules, the pool keeper)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import TYPE_CHECKING, Any

from .db import leases

if TYPE_CHECKING:
    from .db import Pool

log = logging.getLogger(__name__)


class Guarded:
    """The background tasks of one component."""

    def __init__(self, logger: logging.Logger | None = None) -> None:
        self._log = logger or log
        self._tasks: list[asyncio.Task[Any]] = []

    def spawn(self, name: str, body: Callable[[], Coroutine[Any, Any, Any]]) -> asyncio.Task[Any]:
        task = asyncio.create_task(self._guarded(name, body), name=name)
        self._tasks.append(task)
        return task

    async def _guarded(self, name: str, body: Callable[[], Coroutine[Any, Any, Any]]) -> Any:
        try:
            return await body()
        except asyncio.CancelledError:
            raise
        except Exception:
            self._log.exception("background task %s ended with an error", name)
            raise

    def loop(
        self,
        name: str,
        step: Callable[[], Awaitable[float | None]],
        *,
        every: Callable[[], float],
        failure: str,
        wake: asyncio.Event | None = None,
    ) -> asyncio.Task[Any]:
        """A task that repeats `step` (repeat()), its failures logged as `failure`."""
        return self.spawn(
            name, lambda: repeat(step, every=every, logger=self._log, failure=failure, wake=wake)
        )

    @property
    def running(self) -> bool:
        return any(not t.done() for t in self._tasks)

    async def stop(self) -> None:
        """Cancel every task and wait until each has ended."""
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


async def repeat(
    step: Callable[[], Awaitable[float | None]],
    *,
    every: Callable[[], float],
    logger: logging.Logger,
    failure: str,
    wake: asyncio.Event | None = None,
) -> None:
    """Run `step` forever. An exception is logged (`failure`) and the loop goes on. Between
    steps it waits the step's answer in seconds, or `every()` when the step answers None;
    `wake` cuts a wait short (and is cleared after it)."""
    while True:
        pause: float | None = None
        try:
            pause = await step()
        except Exception:
            logger.exception(failure)
        seconds = every() if pause is None else pause
        if wake is None:
            await asyncio.sleep(seconds)
        elif seconds > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), timeout=seconds)
            wake.clear()


class LeaderJob:
    """A periodic job that one service process at a time runs: each round it takes (or keeps)
    a named lease in PostgreSQL and, while it holds it, runs the round."""

    lease: str  # the lease's name
    task_name: str

    def __init__(self, pool: Pool, *, owner: str) -> None:
        self.pool = pool
        self.owner = owner
        self.tasks = Guarded(logging.getLogger(type(self).__module__))

    def interval(self) -> float:
        raise NotImplementedError

    def lease_seconds(self) -> float:
        """Held past the next round, so a live leader keeps it and a dead one's expires."""
        return self.interval() * 1.5

    async def round(self) -> object:
        raise NotImplementedError

    async def start(self) -> None:
        self.tasks.loop(
            self.task_name, self._lead, every=self.interval, failure=f"{self.task_name} round failed"
        )

    async def stop(self) -> None:
        await self.tasks.stop()

    async def _lead(self) -> None:
        if await leases.acquire(self.pool, self.lease, self.owner, self.lease_seconds()):
            await self.round()
