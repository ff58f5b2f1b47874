"""Buffered writes from the request path: events, and request counts per minute. A
request only appends to memory; a background task writes batches to PostgreSQL every
second, so a burst (say, password guessing) costs one INSERT per batch, and a database
that is slow or down never slows or fails a request. When the buffer is full, new events
are dropped and counted."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from ..db import events as events_repo
from ..db import request_stats
from ..db.events import Event
from ..tasks import Guarded

if TYPE_CHECKING:
    from ..db import Pool

log = logging.getLogger(__name__)


class EventRecorder:
    def __init__(self, *, max_buffer: int = 10_000, flush_interval: float = 1.0) -> None:
        self.max_buffer = max_buffer
        self.flush_interval = flush_interval
        self.dropped = 0
        self._events: deque[Event] = deque()
        self._minutes: dict[datetime, tuple[int, int]] = {}
        self._minute = datetime.fromtimestamp(0, UTC)
        self._minute_ends = 0.0
        self._pool: Pool | None = None
        self.tasks = Guarded(log)
        self._wake = asyncio.Event()

    def record(self, event: Event) -> None:
        if len(self._events) >= self.max_buffer:
            self.dropped += 1
            return
        if event.at is None:
            event = replace(event, at=datetime.now(UTC))
        self._events.append(event)
        if len(self._events) >= 200:
            self._wake.set()

    def count_request(self, *, server_error: bool) -> None:
        # Every request comes here: the minute is cached (a datetime per request is slow).
        now = time.time()
        if now >= self._minute_ends:
            start = now - now % 60
            self._minute = datetime.fromtimestamp(start, UTC)
            self._minute_ends = start + 60
        requests, errors = self._minutes.get(self._minute, (0, 0))
        self._minutes[self._minute] = (requests + 1, errors + int(server_error))

    async def start(self, pool: Pool) -> None:
        self._pool = pool
        self.tasks.loop(
            "dbvend-event-recorder",
            self._flush,
            every=lambda: self.flush_interval,
            failure="writing monitoring events failed; keeping them for the next try",
            wake=self._wake,
        )

    async def stop(self) -> None:
        await self.tasks.stop()
        with contextlib.suppress(Exception):
            await self.flush()

    async def _flush(self) -> None:
        await self.flush()

    async def flush(self) -> None:
        if self._pool is None:
            return
        minutes, self._minutes = self._minutes, {}
        batch = list(self._events)
        try:
            if minutes:
                await request_stats.add(self._pool, minutes)
        except Exception:
            for minute, (req, err) in minutes.items():  # put them back
                before = self._minutes.get(minute, (0, 0))
                self._minutes[minute] = (before[0] + req, before[1] + err)
            raise
        if batch:
            await events_repo.insert_many(self._pool, batch)
            for _ in batch:
                self._events.popleft()
        if self.dropped:
            log.warning("dropped %d monitoring event(s): the buffer was full", self.dropped)
            self.dropped = 0
