"""Sending webhook deliveries when the monitoring loops are off (DBVEND_COLLECT_INTERVAL=0),
so instance events still reach their webhooks. Any number of processes may run it: each
delivery is claimed with FOR UPDATE SKIP LOCKED and a lease (db/webhooks.claim_due)."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from ..tasks import Guarded, repeat
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
        self.tasks = Guarded(log)

    async def start(self) -> None:
        self.tasks.spawn(
            "dbvend-deliveries",
            lambda: repeat(
                self._send,
                every=lambda: POLL_SECONDS,
                logger=log,
                failure="sending webhook deliveries failed",
                wake=self._wake,
            ),
        )

    def wake(self) -> None:
        self._wake.set()

    async def stop(self) -> None:
        await self.tasks.stop()
        await self.dispatcher.close()

    async def _send(self) -> float | None:
        """Send what is due; a full batch goes on at once, else wait for a wake or the poll."""
        sent = await self.dispatcher.send_due()
        return 0.0 if sent >= self.dispatcher.batch else None
