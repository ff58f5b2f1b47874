"""Asking for a new TLS certificate for an instance (POST /instances/{id}/rotate-certificate,
and the renewal job at two thirds of a certificate's life or when its CA retires): checked
and recorded as a `rotate-certificate` operation in one transaction, like every day-2
action (day2.py); the worker ships the certificate and the server reloads it live
(operations/kinds/rotate_certificate.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..db import events as events_repo
from ..db import operations
from ..db.events import Event
from ..errors import Conflict
from ..operations import admission

if TYPE_CHECKING:
    from ..db import Pool
    from ..db.users import User

KIND = "rotate-certificate"


@dataclass(frozen=True)
class CertificateAccepted:
    instance_id: str
    operation_id: str


async def request_certificate(
    pool: Pool,
    instance_id: str,
    requester: User | None,
    *,
    owner_id: int | None,
    max_attempts: int,
    reason: str,
) -> CertificateAccepted | None:
    """None when the caller has no such instance (another owner's is None too: 404).
    Conflict when it has TLS off, is neither running nor stopped, or is busy. `requester`
    None: dbvend's renewal job; the operation is also an instance event then."""
    async with pool.acquire() as conn, conn.transaction():
        row = await admission.lock(conn, instance_id, owner_id)
        if row is None:
            return None
        if str((row.settings or {}).get("tls", "off")) == "off":
            raise Conflict(
                f"instance {instance_id} has TLS off: it has no certificate to rotate"
                " (switch it on with PATCH settings.tls)",
                field="settings.tls",
            )
        admission.needs_status(row, ("running", "stopped"), "a certificate rotation")
        admission.in_inventory(row)
        await admission.not_busy(conn, instance_id, "a certificate rotation")
        operation_id = await operations.record(
            conn,
            kind=KIND,
            instance_id=instance_id,
            requested_by=requester.id if requester is not None else None,
            params={"reason": reason, "previous_status": row.status},
            max_attempts=max_attempts,
        )
        if requester is None:
            await events_repo.insert(
                conn,
                Event(
                    kind="certificate_renewal",
                    source="worker",  # a background job of the service
                    instance_id=instance_id,
                    subject=row.host,
                    message=f"certificate of {instance_id} renewed: {reason} (operation {operation_id})",
                    details={"operation_id": operation_id, "reason": reason},
                ),
            )
    return CertificateAccepted(instance_id, operation_id)
