"""Shipping an instance's TLS certificate with a play (docs/tls.md): issued and recorded
pending before the run (service/db/tls.py; a retry ships the same one), passed to the role
as tls_cert_pem / tls_key_pem / tls_ca_pem in the run's private inventory (0600 in a 0700
dir, removed after the run, like the password hashes; never a command line, an
environment or a log: the key is redacted from every error), and confirmed current once
the run succeeded. A crash in between leaves the server with the old or the new
certificate, both valid and both in the store until the confirm."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from ..db import tls as tls_repo
from ..db.tls_authorities import bundle_pem
from ..engines.base import TLS_OFF, tls_mode

if TYPE_CHECKING:
    from pydantic import BaseModel

    from ..config import Settings
    from ..crypto import SecretBox
    from ..db import Executor, Pool


@dataclass(frozen=True)
class Shipment:
    """A pending certificate on its way to a server."""

    instance_id: str
    fingerprint: bytes
    ca_pem: str
    variables: dict[str, Any] = field(repr=False)
    key_pem: str = field(repr=False)


async def ship(pool: Pool, box: SecretBox, settings: Settings, *, instance_id: str, address: str) -> Shipment:
    """The certificate for the instance on the host `address` (its dbvend_address), with the
    role variables that carry it."""
    record, ca = await tls_repo.issue_certificate(
        pool,
        box,
        instance_id=instance_id,
        address=address,
        days=settings.tls.cert_days,
        now=datetime.now(UTC),
    )
    key = await tls_repo.key_pem(pool, box, record.id)
    variables = {"tls_cert_pem": record.certificate_pem, "tls_key_pem": key, "tls_ca_pem": ca}
    return Shipment(instance_id, record.fingerprint, ca, variables, key)


async def ship_if_on(
    pool: Pool, box: SecretBox, settings: Settings, *, instance_id: str, address: str, wanted: BaseModel
) -> Shipment | None:
    """A certificate when the settings ask for TLS, else None."""
    if tls_mode(wanted) == TLS_OFF:
        return None
    return await ship(pool, box, settings, instance_id=instance_id, address=address)


async def confirm(pool: Pool, shipment: Shipment | None) -> None:
    """The run that shipped it succeeded: the certificate is current (the one before, and
    its sealed key, go)."""
    if shipment is not None:
        await tls_repo.confirm(pool, shipment.instance_id, "", shipment.fingerprint)


async def bundle_for(db: Executor, settings: BaseModel) -> str | None:
    """The CA bundle to verify an instance with, when it serves TLS (readiness, probes)."""
    return await bundle_pem(db) if tls_mode(settings) != TLS_OFF else None
