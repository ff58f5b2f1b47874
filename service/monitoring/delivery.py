"""Sending webhook deliveries when the monitoring loops are off (DBVEND_COLLECT_INTERVAL=0),
so instance events still reach their webhooks. Any number of processes may run it: each
delivery is claimed with FOR UPDATE SKIP LOCKED and a lease (db/webhooks.claim_due)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING

from .notify import Dispatcher

if TYPE_CHECKING:
    from ..crypto import SecretBox
    from ..db import Pool
    from .egress import EgressPolicy

log = logging.getLogger(__name__)
POLL_SECONDS = 5.0


class DeliveryLoop:
    def __init__(self, pool: Pool, policy: EgressPolicy, box: SecretBox) -> None:
        self.dispatcher = Dispatcher(pool, policy, box=box)
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="dbvend-deliveries")

    def wake(self) -> None:
        self._wake.set()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.dispatcher.close()

    async def _loop(self) -> None:
        while True:
            sent = 0
            try:
                sent = await self.dispatcher.send_due()
            except Exception:
                log.exception("sending webhook deliveries failed")
            if sent < self.dispatcher.batch:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=POLL_SECONDS)
                self._wake.clear()
