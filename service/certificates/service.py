"""The certificates domain's service: the CA at start (made, or the operator's), the bundle,
and the three steps of a CA rotation (docs/tls.md):

1. `begin`: a new CA joins the bundle as `next`, signing nothing yet. Clients fetch the
   bundle (GET /api/v1/tls/ca.pem) and so trust both.
2. `promote`: the new CA signs; the old one is `retiring`, and every certificate it signed
   is due: the renewal job re-issues them (rotate-certificate operations, live reloads).
3. `finish`: the retiring CA leaves the bundle, once no certificate of it is left (409
   before, saying how many remain)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from ..context import Service
from ..db import tls_authorities as authorities
from ..errors import Conflict

log = logging.getLogger(__name__)
Step = Literal["begin", "promote", "finish"]


@dataclass(frozen=True)
class AuthorityView:
    id: int
    state: str
    source: str
    fingerprint_sha256: str
    not_before: datetime
    not_after: datetime
    certificates: int


class CertificateService(Service):
    async def start(self) -> None:
        """The runtime's `tls` component."""
        ca = await self.ensure_ca()
        log.info(
            "TLS: CA %s (%s), valid until %s",
            ca.fingerprint.hex()[:16],
            ca.source,
            f"{ca.not_after:%Y-%m-%d}",
        )

    async def ensure_ca(self) -> authorities.StoredAuthority:
        """At start: the active CA, made (first start) or the operator's (DBVEND_TLS_CA_*,
        checked by the settings: a bad one stopped the start before this)."""
        return await authorities.ensure_ca(
            self.ctx.pool, self.ctx.box, self.ctx.settings.tls, now=datetime.now(UTC)
        )

    async def bundle(self) -> str:
        return await authorities.bundle_pem(self.ctx.reads)

    async def authorities(self) -> list[AuthorityView]:
        counts = await authorities.certificate_counts(self.ctx.pool)
        return [
            AuthorityView(
                a.id,
                a.state,
                a.source,
                a.fingerprint.hex(":").upper(),
                a.not_before,
                a.not_after,
                counts.get(a.id, 0),
            )
            for a in await authorities.authorities(self.ctx.pool)
        ]

    async def rotate_ca(self, step: Step) -> list[AuthorityView]:
        """One step of a CA rotation; each is idempotent (a repeated `begin` keeps the next
        CA it made, a repeated `promote` finds nothing to promote and says so)."""
        pool = self.ctx.pool
        if step == "begin":
            await authorities.begin_rotation(pool, self.ctx.box, now=datetime.now(UTC))
        elif step == "promote":
            if await authorities.promote_next(pool) is None:
                raise Conflict("no next CA to promote: begin the rotation first (step begin)", field="step")
        else:
            listed = await self.authorities()
            retiring = [a for a in listed if a.state == "retiring"]
            if not retiring:
                raise Conflict("no retiring CA: promote a next CA first (step promote)", field="step")
            left = sum(a.certificates for a in retiring)
            if left:
                raise Conflict(
                    f"{left} certificate(s) of the retiring CA are still in use: the renewal job"
                    " re-issues them (rotate-certificate operations); finish once none is left",
                    field="step",
                )
            for a in retiring:
                await authorities.drop_retiring(pool, a.id)
        return await self.authorities()
