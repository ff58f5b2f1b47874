"""Waiting for an operation to end (?wait=N) without polling every request:
one LISTEN connection per process wakes the waiters of the operation that ended."""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from typing import TYPE_CHECKING, Any

from ..db import operations

if TYPE_CHECKING:
    from ..db import Pool
    from ..db.operations import Operation


class OperationWaiter:
    def __init__(self, pool: Pool) -> None:
        self.pool = pool
        self._events: dict[str, list[asyncio.Event]] = defaultdict(list)
        self._conn: Any = None

    async def start(self) -> None:
        conn: Any = await self.pool.acquire()
        try:
            await conn.add_listener(operations.NOTIFY_CHANNEL, self._on_notify)
        except BaseException:
            await self.pool.release(conn)
            raise
        self._conn = conn

    async def stop(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                await self._conn.remove_listener(operations.NOTIFY_CHANNEL, self._on_notify)
            await self.pool.release(self._conn)
            self._conn = None

    def _on_notify(self, _conn: object, _pid: int, _channel: str, payload: str) -> None:
        if payload.startswith("done:"):
            for event in self._events.get(payload[5:], []):
                event.set()

    async def wait(self, operation_id: str, seconds: float) -> Operation | None:
        """The operation once it ended, or as it stands after `seconds`."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        event = asyncio.Event()
        self._events[operation_id].append(event)
        try:
            while True:
                op = await operations.get(self.pool, operation_id)
                if op is None or op.status in ("succeeded", "failed"):
                    return op
                remaining = deadline - loop.time()
                if remaining <= 0:
                    return op
                # The notification wakes us; the 2 s cap covers a lost one.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(event.wait(), timeout=min(remaining, 2.0))
                event.clear()
        finally:
            self._events[operation_id].remove(event)
            if not self._events[operation_id]:
                del self._events[operation_id]
