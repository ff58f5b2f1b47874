"""service/db/tls_authorities.py against the real PostgreSQL: one CA however many processes
start at once, the operator's CA taking over (at once on a new store, as the next CA once
certificates exist), the three steps of a CA rotation, and no CA key in clear in any row."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
from cryptography.fernet import Fernet

from service.crypto import SecretBox
from service.db import tls as certificates
from service.db import tls_authorities as cas
from service.db.pool import create_pool
from service.tls import TlsSettings, make_authority

NOW = datetime.now(UTC)
BOX = SecretBox((Fernet.generate_key().decode(),))
PLAIN = TlsSettings()


async def _issue_and_confirm(pool: asyncpg.Pool, instance_id: str) -> certificates.StoredCertificate:
    record, _ = await certificates.issue_certificate(
        pool, BOX, instance_id=instance_id, address="127.0.0.1", days=30, now=NOW
    )
    assert await certificates.confirm(pool, instance_id, "", record.fingerprint)
    return record


async def test_processes_starting_together_make_one_ca(url: str) -> None:
    pools = [await create_pool(url, min_size=1, max_size=1) for _ in range(4)]
    try:
        made = await asyncio.gather(*(cas.ensure_ca(p, BOX, PLAIN, now=NOW) for p in pools))
        assert len({a.fingerprint for a in made}) == 1
        assert await pools[0].fetchval("SELECT count(*) FROM tls_authorities") == 1
        # A later start finds it.
        again = await cas.ensure_ca(pools[1], BOX, PLAIN, now=NOW + timedelta(days=1))
        assert again.id == made[0].id
    finally:
        for p in pools:
            await p.close()
    only = made[0]
    assert (only.state, only.source) == ("active", "generated")
    assert only.not_after - only.not_before > timedelta(days=3650)


async def test_the_ca_key_is_sealed(pool: asyncpg.Pool) -> None:
    await cas.ensure_ca(pool, BOX, PLAIN, now=NOW)
    _, authority = await cas.signing_authority(pool, BOX)
    key_lines = authority.key_pem().splitlines()[1:-1]
    for row in await pool.fetch("SELECT * FROM tls_authorities"):
        for value in row.values():
            text = bytes(value).decode("latin-1") if isinstance(value, bytes) else str(value)
            assert "PRIVATE KEY" not in text
            assert all(line not in text for line in key_lines)
    with pytest.raises(ValueError, match="cannot be decrypted"):
        await cas.signing_authority(pool, SecretBox((Fernet.generate_key().decode(),)))


async def test_on_a_new_store_the_operators_ca_is_active_at_once(pool: asyncpg.Pool) -> None:
    made = await cas.ensure_ca(pool, BOX, PLAIN, now=NOW)
    operator = make_authority(NOW)
    settings = TlsSettings(ca=operator)
    imported = await cas.ensure_ca(pool, BOX, settings, now=NOW)
    assert (imported.state, imported.source, imported.fingerprint) == (
        "active",
        "operator",
        operator.fingerprint,
    )
    assert {a.id: a.state for a in await cas.authorities(pool)} == {
        made.id: "retiring",
        imported.id: "active",
    }
    # The same settings again change nothing; without them the stored operator CA stays.
    assert (await cas.ensure_ca(pool, BOX, settings, now=NOW)).id == imported.id
    assert (await cas.ensure_ca(pool, BOX, PLAIN, now=NOW)).id == imported.id
    _, signing = await cas.signing_authority(pool, BOX)
    assert signing.fingerprint == operator.fingerprint


async def test_with_certificates_the_operators_new_ca_waits_as_the_next_one(pool: asyncpg.Pool) -> None:
    made = await cas.ensure_ca(pool, BOX, PLAIN, now=NOW)
    await _issue_and_confirm(pool, "i-aaaaaaaa")
    operator = make_authority(NOW)
    active = await cas.ensure_ca(pool, BOX, TlsSettings(ca=operator), now=NOW)
    # Still the old one signing; the new one only in the bundle, so clients fetch both first.
    assert active.id == made.id
    assert [a.state for a in await cas.authorities(pool)] == ["active", "next"]
    assert await cas.bundle_pem(pool) == made.certificate_pem + operator.certificate_pem
    assert await certificates.due(pool, NOW, 10) == []
    assert (await cas.ensure_ca(pool, BOX, TlsSettings(ca=operator), now=NOW)).id == made.id
    promoted = await cas.promote_next(pool)
    assert promoted is not None
    assert promoted.fingerprint == operator.fingerprint
    assert [c.instance_id for c in await certificates.due(pool, NOW, 10)] == ["i-aaaaaaaa"]


async def test_a_ca_rotation_in_three_steps(pool: asyncpg.Pool) -> None:
    old = await cas.ensure_ca(pool, BOX, PLAIN, now=NOW)
    for instance_id in ("i-aaaaaaaa", "i-bbbbbbbb"):
        await _issue_and_confirm(pool, instance_id)
    assert await cas.promote_next(pool) is None  # nothing to promote yet

    # 1. The next CA joins the bundle; nothing is re-issued yet.
    new = await cas.begin_rotation(pool, BOX, now=NOW)
    assert (await cas.begin_rotation(pool, BOX, now=NOW)).id == new.id
    assert [a.id for a in await cas.authorities(pool)] == [old.id, new.id]
    assert await certificates.due(pool, NOW, 10) == []
    _, signing = await cas.signing_authority(pool, BOX)
    assert signing.fingerprint == old.fingerprint

    # 2. Promoted: it signs, and every certificate of the old CA is due at once.
    assert (await cas.promote_next(pool)) == (await cas.authorities(pool))[0]
    assert len(await certificates.due(pool, NOW, 10)) == 2
    assert not await cas.drop_retiring(pool, old.id)
    for instance_id in ("i-aaaaaaaa", "i-bbbbbbbb"):
        record, ca = await certificates.issue_certificate(
            pool, BOX, instance_id=instance_id, address="127.0.0.1", days=30, now=NOW
        )
        assert record.authority_id == new.id
        assert old.certificate_pem in ca  # clients holding either CA verify it
        assert new.certificate_pem in ca
        assert await certificates.confirm(pool, instance_id, "", record.fingerprint)
    assert await certificates.due(pool, NOW, 10) == []

    # 3. The old CA leaves the bundle (never the active one).
    assert not await cas.drop_retiring(pool, new.id)
    assert await cas.drop_retiring(pool, old.id)
    assert await cas.bundle_pem(pool) == new.certificate_pem
