"""The certificates of instances (0028_tls.sql tls_certificates): one current per instance
(or member), a pending one while a new certificate is being shipped; private keys
SecretBox-sealed like instances.secrets, opened only for the Ansible run that ships them.
The CA that signs them: tls_authorities.py."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from ..tls import Issued, Names, Purpose, issue, member_names, renew_at, server_names, verify_server
from .tls_authorities import bundle_pem, signing_authority

if TYPE_CHECKING:
    from asyncpg import Record

    from ..crypto import SecretBox
    from . import Executor, Pool


@dataclass(frozen=True)
class StoredCertificate:
    """A certificate's record; its key stays sealed (key_pem opens it)."""

    id: int
    instance_id: str
    member: str
    purpose: str
    state: str
    authority_id: int
    serial: str
    fingerprint: bytes
    names: tuple[str, ...]
    certificate_pem: str
    not_before: datetime
    not_after: datetime
    renew_at: datetime
    issued_at: datetime


_CERTIFICATE_COLUMNS = (
    "id",
    "instance_id",
    "member",
    "purpose",
    "state",
    "authority_id",
    "serial",
    "fingerprint",
    "names",
    "certificate_pem",
    "not_before",
    "not_after",
    "renew_at",
    "issued_at",
)
_CERTIFICATE = ", ".join(_CERTIFICATE_COLUMNS)


def _certificate(r: Record) -> StoredCertificate:
    return StoredCertificate(
        id=r["id"],
        instance_id=r["instance_id"],
        member=r["member"],
        purpose=r["purpose"],
        state=r["state"],
        authority_id=r["authority_id"],
        serial=r["serial"],
        fingerprint=bytes(r["fingerprint"]),
        names=tuple(r["names"]),
        certificate_pem=r["certificate_pem"],
        not_before=r["not_before"],
        not_after=r["not_after"],
        renew_at=r["renew_at"],
        issued_at=r["issued_at"],
    )


def _seal(box: SecretBox, key_pem: str) -> bytes:
    return box.seal({"key_pem": key_pem})


async def current(db: Executor, instance_id: str, member: str = "") -> StoredCertificate | None:
    row = await db.fetchrow(
        f"SELECT {_CERTIFICATE} FROM tls_certificates WHERE instance_id = $1 AND member = $2"
        " AND state = 'current'",
        instance_id,
        member,
    )
    return _certificate(row) if row else None


async def pending(db: Executor, instance_id: str, member: str = "") -> StoredCertificate | None:
    row = await db.fetchrow(
        f"SELECT {_CERTIFICATE} FROM tls_certificates WHERE instance_id = $1 AND member = $2"
        " AND state = 'pending'",
        instance_id,
        member,
    )
    return _certificate(row) if row else None


async def key_pem(db: Executor, box: SecretBox, certificate_id: int) -> str:
    """The certificate's private key, for the Ansible run that ships it (tls_key_pem) only."""
    sealed = await db.fetchval("SELECT key_sealed FROM tls_certificates WHERE id = $1", certificate_id)
    if sealed is None:
        raise LookupError(f"no certificate {certificate_id}")
    return box.open(bytes(sealed))["key_pem"]


async def record_pending(
    pool: Pool, box: SecretBox, *, instance_id: str, member: str, authority_id: int, issued: Issued
) -> StoredCertificate:
    """A new certificate, sealed before anything ships it; replaces an earlier pending one
    (never served by a run that succeeded, or it would be current)."""
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(
            "DELETE FROM tls_certificates WHERE instance_id = $1 AND member = $2 AND state = 'pending'",
            instance_id,
            member,
        )
        row = await conn.fetchrow(
            "INSERT INTO tls_certificates (instance_id, member, purpose, state, authority_id, serial,"
            " fingerprint, names, certificate_pem, key_sealed, not_before, not_after, renew_at)"
            " VALUES ($1, $2, $3, 'pending', $4, $5, $6, $7, $8, $9, $10, $11, $12)"
            f" RETURNING {_CERTIFICATE}",
            instance_id,
            member,
            issued.purpose,
            authority_id,
            issued.serial_hex,
            issued.fingerprint,
            list(issued.names),
            issued.certificate_pem,
            _seal(box, issued.key_pem),
            issued.not_before,
            issued.not_after,
            renew_at(issued.not_before, issued.not_after),
        )
    assert row is not None
    return _certificate(row)


async def confirm(pool: Pool, instance_id: str, member: str, fingerprint: bytes) -> bool:
    """The run that shipped the pending certificate `fingerprint` succeeded: it is current,
    and the one it replaced is deleted (with its sealed key). False when that certificate is
    not the pending one (already confirmed, or replaced by a newer issue)."""
    async with pool.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(
            "SELECT id FROM tls_certificates WHERE instance_id = $1 AND member = $2 AND state = 'pending'"
            " AND fingerprint = $3 FOR UPDATE",
            instance_id,
            member,
            fingerprint,
        )
        if row is None:
            return False
        await conn.execute(
            "DELETE FROM tls_certificates WHERE instance_id = $1 AND member = $2 AND state = 'current'",
            instance_id,
            member,
        )
        await conn.execute("UPDATE tls_certificates SET state = 'current' WHERE id = $1", row["id"])
        return True


async def due(db: Executor, now: datetime, limit: int) -> list[StoredCertificate]:
    """Current certificates to renew: past two thirds of their life, or signed by a retiring
    CA (a rotation); soonest first."""
    rows = await db.fetch(
        f"SELECT {', '.join('c.' + c for c in _CERTIFICATE_COLUMNS)}"
        " FROM tls_certificates c JOIN tls_authorities a ON a.id = c.authority_id"
        " WHERE c.state = 'current' AND (c.renew_at <= $1 OR a.state = 'retiring')"
        " ORDER BY a.state = 'retiring', c.renew_at LIMIT $2",
        now,
        limit,
    )
    return [_certificate(r) for r in rows]


async def forget(db: Executor, instance_id: str) -> int:
    """An instance (or slot) is gone: its certificates and their sealed keys go too."""
    done = await db.execute("DELETE FROM tls_certificates WHERE instance_id = $1", instance_id)
    return int(done.split()[-1])


# --- Issuing --------------------------------------------------------------------------------


async def issue_certificate(
    pool: Pool,
    box: SecretBox,
    *,
    instance_id: str,
    address: str,
    days: int,
    now: datetime,
    member: str = "",
    purpose: Purpose = "server",
) -> tuple[StoredCertificate, str]:
    """The certificate to ship for an instance (or member) on the host `address`, and the CA
    bundle to ship with it: the pending one when a retry finds it still right (same names,
    active CA), else a new one, verified against the bundle for `address` as a client will,
    then recorded pending. The caller ships it with key_pem() and confirm()s on success."""
    names: Names = (
        member_names(address, instance_id, member) if member else server_names(address, instance_id)
    )
    stored, authority = await signing_authority(pool, box)
    waiting = await pending(pool, instance_id, member)
    ca_bundle = await bundle_pem(pool)
    if waiting and waiting.authority_id == stored.id and waiting.names == names.describe():
        return waiting, ca_bundle
    issued = issue(authority, names, now=now, days=days, purpose=purpose)
    verify_server(issued.certificate_pem, ca_bundle, host=address, now=now)
    record = await record_pending(
        pool, box, instance_id=instance_id, member=member, authority_id=stored.id, issued=issued
    )
    return record, ca_bundle
