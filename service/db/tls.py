"""TLS rows (0028_tls.sql): the deployment's certificate authorities and the certificates of
instances, private keys SecretBox-sealed like instances.secrets (opened only to sign with or
to hand to Ansible). The CA is made, or the operator's imported, at start by ensure_ca,
under an advisory lock: processes starting together agree on one."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from ..tls import (
    Authority,
    Issued,
    Names,
    Purpose,
    TlsSettings,
    bundle,
    issue,
    load_authority,
    make_authority,
    member_names,
    renew_at,
    server_names,
    verify_server,
)

if TYPE_CHECKING:
    from asyncpg import Record

    from ..crypto import SecretBox
    from . import Conn, Executor, Pool

_CA_LOCK = 0x64627463  # "dbtc": one process at a time makes, imports or rotates the CA


@dataclass(frozen=True)
class StoredAuthority:
    id: int
    state: str
    source: str
    certificate_pem: str
    fingerprint: bytes
    not_before: datetime
    not_after: datetime
    created_at: datetime


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


_AUTHORITY = "id, state, source, certificate_pem, fingerprint, not_before, not_after, created_at"
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


def _authority(r: Record) -> StoredAuthority:
    return StoredAuthority(
        id=r["id"],
        state=r["state"],
        source=r["source"],
        certificate_pem=r["certificate_pem"],
        fingerprint=bytes(r["fingerprint"]),
        not_before=r["not_before"],
        not_after=r["not_after"],
        created_at=r["created_at"],
    )


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


# --- Authorities --------------------------------------------------------------------------


async def authorities(db: Executor) -> list[StoredAuthority]:
    """The active CA first, then the retiring ones, newest first."""
    rows = await db.fetch(
        f"SELECT {_AUTHORITY} FROM tls_authorities ORDER BY state = 'active' DESC, created_at DESC, id DESC"
    )
    return [_authority(r) for r in rows]


async def bundle_pem(db: Executor) -> str:
    """What clients verify against and servers get as their CA file (service/tls/bundle.py)."""
    return bundle(a.certificate_pem for a in await authorities(db))


async def signing_authority(db: Executor, box: SecretBox) -> tuple[StoredAuthority, Authority]:
    """The active CA with its key opened, to sign with. LookupError before ensure_ca ran."""
    row = await db.fetchrow(f"SELECT {_AUTHORITY}, key_sealed FROM tls_authorities WHERE state = 'active'")
    if row is None:
        raise LookupError("no active CA: ensure_ca runs at start")
    stored = _authority(row)
    key = box.open(bytes(row["key_sealed"]))["key_pem"]
    # Checked again as an operator's CA is (an expired one signs nothing), min_days=0: a CA
    # close to its end still signs, capped at its end (service/tls/issue.py).
    authority = load_authority(stored.certificate_pem.encode(), key.encode(), datetime.now(UTC), min_days=0)
    return stored, authority


async def _insert_active(conn: Conn, box: SecretBox, authority: Authority, source: str) -> StoredAuthority:
    row = await conn.fetchrow(
        "INSERT INTO tls_authorities (state, source, certificate_pem, key_sealed, fingerprint, not_before,"
        f" not_after) VALUES ('active', $1, $2, $3, $4, $5, $6) RETURNING {_AUTHORITY}",
        source,
        authority.certificate_pem,
        _seal(box, authority.key_pem()),
        authority.fingerprint,
        authority.not_before,
        authority.not_after,
    )
    assert row is not None
    return _authority(row)


async def _retire_active(conn: Conn) -> None:
    await conn.execute(
        "UPDATE tls_authorities SET state = 'retiring', retiring_since = now() WHERE state = 'active'"
    )


async def ensure_ca(pool: Pool, box: SecretBox, settings: TlsSettings, *, now: datetime) -> StoredAuthority:
    """The active CA, made or imported now if needed; called once at every start.

    Without an operator CA: the stored active one, else a new one (EC P-256, 10 years).
    With one (settings.ca, checked by the settings): it becomes the active CA unless it
    already is; a different CA that was active is kept as retiring (still in the bundle, so
    nothing stops verifying) until its certificates are re-issued. Give every process the
    same DBVEND_TLS_CA_*: two that differ would take turns at it on each start."""
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", _CA_LOCK)
        active = await conn.fetchrow(f"SELECT {_AUTHORITY} FROM tls_authorities WHERE state = 'active'")
        if settings.ca is None:
            if active is not None:
                return _authority(active)
            return await _insert_active(conn, box, make_authority(now), "generated")
        wanted = settings.ca
        if active is not None and bytes(active["fingerprint"]) == wanted.fingerprint:
            return _authority(active)
        await _retire_active(conn)
        known = await conn.fetchrow(
            "UPDATE tls_authorities SET state = 'active', retiring_since = NULL WHERE fingerprint = $1"
            f" RETURNING {_AUTHORITY}",
            wanted.fingerprint,
        )
        if known is not None:
            return _authority(known)
        return await _insert_active(conn, box, wanted, "operator")


async def begin_rotation(
    pool: Pool, box: SecretBox, *, now: datetime, authority: Authority | None = None
) -> StoredAuthority:
    """A CA rotation's first step: a new active CA (made, or the one given), the old one
    retiring. Then every certificate is re-issued (due() lists those of a retiring CA),
    then drop_retiring."""
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", _CA_LOCK)
        await _retire_active(conn)
        new = authority or make_authority(now)
        return await _insert_active(conn, box, new, "generated" if authority is None else "operator")


async def drop_retiring(pool: Pool, authority_id: int) -> bool:
    """A rotation's last step: the retiring CA leaves the bundle. False (nothing done) while a
    certificate it signed is still pending or current, or when it is the active one."""
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", _CA_LOCK)
        left = await conn.fetchval(
            "SELECT count(*) FROM tls_certificates WHERE authority_id = $1", authority_id
        )
        if left:
            return False
        done = await conn.execute(
            "DELETE FROM tls_authorities WHERE id = $1 AND state = 'retiring'", authority_id
        )
        return bool(done == "DELETE 1")


# --- Certificates -------------------------------------------------------------------------


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
