"""The deployment's certificate authorities (0028_tls.sql tls_authorities), keys
SecretBox-sealed like instances.secrets and opened only to sign with. The CA is made, or the
operator's imported, at start by ensure_ca under an advisory lock: processes starting
together agree on one. A CA rotation is begin_rotation -> promote_next -> drop_retiring
(docs/tls.md)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from ..tls import Authority, TlsSettings, bundle, load_authority, make_authority
from . import locks

if TYPE_CHECKING:
    from asyncpg import Record

    from ..crypto import SecretBox
    from . import Conn, Executor, Pool


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


_AUTHORITY = "id, state, source, certificate_pem, fingerprint, not_before, not_after, created_at"


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


def _seal(box: SecretBox, key_pem: str) -> bytes:
    return box.seal({"key_pem": key_pem})


async def authorities(db: Executor) -> list[StoredAuthority]:
    """The active CA first, then the next one (a rotation's first step), then the retiring
    ones, newest first."""
    rows = await db.fetch(
        f"SELECT {_AUTHORITY} FROM tls_authorities"
        " ORDER BY array_position(ARRAY['active', 'next', 'retiring'], state), created_at DESC, id DESC"
    )
    return [_authority(r) for r in rows]


async def bundle_pem(db: Executor) -> str:
    """What clients verify against and servers get as their CA file (service/tls/bundle.py):
    every CA a server's certificate may come from during a rotation."""
    return bundle(a.certificate_pem for a in await authorities(db))


async def signing_authority(db: Executor, box: SecretBox) -> tuple[StoredAuthority, Authority]:
    """The active CA with its key opened, to sign with. LookupError before ensure_ca ran."""
    row = await db.fetchrow(f"SELECT {_AUTHORITY}, key_sealed FROM tls_authorities WHERE state = 'active'")
    if row is None:
        raise LookupError("no active CA: ensure_ca runs at start")
    stored = _authority(row)
    key = box.open(bytes(row["key_sealed"]))["key_pem"]
    # Checked again as an operator's CA is (an expired one signs nothing); min_days=0: a CA
    # close to its end still signs, capped at its end (service/tls/issue.py).
    now = datetime.now(UTC)
    return stored, load_authority(stored.certificate_pem.encode(), key.encode(), now, min_days=0)


async def _insert(
    conn: Conn, box: SecretBox, authority: Authority, source: str, state: str
) -> StoredAuthority:
    row = await conn.fetchrow(
        "INSERT INTO tls_authorities (state, source, certificate_pem, key_sealed, fingerprint, not_before,"
        f" not_after) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {_AUTHORITY}",
        state,
        source,
        authority.certificate_pem,
        _seal(box, authority.key_pem()),
        authority.fingerprint,
        authority.not_before,
        authority.not_after,
    )
    assert row is not None
    return _authority(row)


async def _promote(conn: Conn) -> StoredAuthority | None:
    """next -> active, active -> retiring (its certificates are due at once: due())."""
    if await conn.fetchval("SELECT 1 FROM tls_authorities WHERE state = 'next'") is None:
        return None
    await conn.execute(
        "UPDATE tls_authorities SET state = 'retiring', retiring_since = now() WHERE state = 'active'"
    )
    row = await conn.fetchrow(
        f"UPDATE tls_authorities SET state = 'active' WHERE state = 'next' RETURNING {_AUTHORITY}"
    )
    return _authority(row) if row else None


async def ensure_ca(pool: Pool, box: SecretBox, settings: TlsSettings, *, now: datetime) -> StoredAuthority:
    """The active CA, made or imported now if needed; called once at every start.

    Without an operator CA: the stored active one, else a new one (EC P-256, 10 years).
    With one (settings.ca, checked by the settings) that is not the active one: on a store
    with no certificate yet it becomes the active CA at once; otherwise it becomes the next
    CA (in the bundle, signing nothing) and the rotation continues as docs/tls.md says
    (promote_next once clients have the new bundle): certificates of the old CA must keep
    verifying for clients that only know the old one. Give every process the same
    DBVEND_TLS_CA_*."""
    async with pool.acquire() as conn, conn.transaction():
        await locks.hold_for_transaction(conn, locks.CA)
        active = await conn.fetchrow(f"SELECT {_AUTHORITY} FROM tls_authorities WHERE state = 'active'")
        if settings.ca is None:
            if active is not None:
                return _authority(active)
            return await _insert(conn, box, make_authority(now), "generated", "active")
        wanted = settings.ca
        if active is not None and bytes(active["fingerprint"]) == wanted.fingerprint:
            return _authority(active)
        known = await conn.fetchrow(
            "SELECT state FROM tls_authorities WHERE fingerprint = $1", wanted.fingerprint
        )
        if known is None or known["state"] != "next":
            await conn.execute("DELETE FROM tls_authorities WHERE state = 'next'")
            if known is not None:
                await conn.execute(
                    "UPDATE tls_authorities SET state = 'next', retiring_since = NULL WHERE fingerprint = $1",
                    wanted.fingerprint,
                )
            else:
                await _insert(conn, box, wanted, "operator", "next")
        if active is None or not await conn.fetchval("SELECT EXISTS (SELECT 1 FROM tls_certificates)"):
            promoted = await _promote(conn)
            assert promoted is not None
            return promoted
        return _authority(active)


async def begin_rotation(
    pool: Pool, box: SecretBox, *, now: datetime, authority: Authority | None = None
) -> StoredAuthority:
    """A CA rotation's first step: a next CA (made, or the one given), in the bundle and
    signing nothing yet; an existing next CA is kept (the step is idempotent)."""
    async with pool.acquire() as conn, conn.transaction():
        await locks.hold_for_transaction(conn, locks.CA)
        waiting = await conn.fetchrow(f"SELECT {_AUTHORITY} FROM tls_authorities WHERE state = 'next'")
        if waiting is not None:
            return _authority(waiting)
        new = authority or make_authority(now)
        return await _insert(conn, box, new, "generated" if authority is None else "operator", "next")


async def promote_next(pool: Pool) -> StoredAuthority | None:
    """The second step, once clients have the bundle with both: the next CA signs, the old
    one retires and every certificate it signed falls due (due()). None without a next CA."""
    async with pool.acquire() as conn, conn.transaction():
        await locks.hold_for_transaction(conn, locks.CA)
        return await _promote(conn)


async def drop_retiring(pool: Pool, authority_id: int) -> bool:
    """The last step: the retiring CA leaves the bundle. False (nothing done) while a
    certificate it signed is still pending or current, or when it is not retiring."""
    async with pool.acquire() as conn, conn.transaction():
        await locks.hold_for_transaction(conn, locks.CA)
        left = await conn.fetchval(
            "SELECT count(*) FROM tls_certificates WHERE authority_id = $1", authority_id
        )
        if left:
            return False
        done = await conn.execute(
            "DELETE FROM tls_authorities WHERE id = $1 AND state = 'retiring'", authority_id
        )
        return bool(done == "DELETE 1")


async def certificate_counts(db: Executor) -> dict[int, int]:
    """authority id -> certificates (pending or current) it signed."""
    rows = await db.fetch("SELECT authority_id, count(*) AS n FROM tls_certificates GROUP BY authority_id")
    return {r["authority_id"]: int(r["n"]) for r in rows}
