"""Certificate renewal, a leader job: every round, the current certificates that are due
(two thirds of their life gone, or signed by a CA that is retiring: a CA rotation's second
step) get a `rotate-certificate` operation each, recorded as an instance event too. An
instance that is busy is asked again next round; one that is gone loses its certificate."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from ..db import instances, pool_slots
from ..db import tls as tls_repo
from ..errors import Conflict
from ..tasks import LeaderJob
from .certificates import request_certificate

if TYPE_CHECKING:
    from ..config import Settings
    from ..db import Pool

log = logging.getLogger(__name__)
LEASE = "certificate-renewal"
# Certificates looked at per round (the rest come next round, soonest due first).
BATCH = 50


class CertificateRenewal(LeaderJob):
    lease = LEASE
    task_name = "dbvend-certificate-renewal"

    def __init__(self, pool: Pool, settings: Settings, *, owner: str, interval: float = 60.0) -> None:
        super().__init__(pool, owner=owner)
        self.settings = settings
        self._interval = interval

    def interval(self) -> float:
        return self._interval

    async def round(self) -> object:
        due = await tls_repo.due(self.pool, datetime.now(UTC), BATCH)
        asked = 0
        for cert in due:
            if cert.member:
                continue  # members (HA) are renewed by their instance's own operations, later
            inst = await instances.get_any(self.pool, cert.instance_id)
            if inst is None:
                # A warm pool slot's (its id is its future instance's): a ready slot is
                # replaced by a fresh one; a slot or instance that is gone loses it.
                await self._slot(cert.instance_id)
                continue
            if inst.status == "deleted":
                await tls_repo.forget(self.pool, cert.instance_id)
                continue
            if inst.status not in ("running", "stopped"):
                continue  # failed, or in the middle of something: nothing to reload
            reason = (
                "its CA is retiring (CA rotation)"
                if cert.renew_at > datetime.now(UTC)
                else f"two thirds of its life gone (renew at {cert.renew_at:%Y-%m-%d %H:%M} UTC)"
            )
            try:
                found = await request_certificate(
                    self.pool,
                    cert.instance_id,
                    None,
                    owner_id=None,
                    max_attempts=self.settings.max_attempts,
                    reason=reason,
                )
            except Conflict as exc:
                log.info("certificate of %s is due but not renewed yet: %s", cert.instance_id, exc)
                continue
            asked += found is not None
        return {"due": len(due), "asked": asked}

    async def _slot(self, slot_id: str) -> None:
        async with self.pool.acquire() as conn, conn.transaction():
            if await pool_slots.exists(conn, slot_id):
                await pool_slots.retire(conn, [slot_id], "its TLS certificate is due: a new slot replaces it")
            else:
                await tls_repo.forget(conn, slot_id)
