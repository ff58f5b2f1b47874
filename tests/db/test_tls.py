"""service/db/tls.py against the real PostgreSQL: one CA however many processes start at
once, the operator's CA taking over, certificates pending -> current, renewal and a CA
rotation, and no private key in clear in any row."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
from cryptography import x509
from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import serialization

from service.crypto import SecretBox
from service.db import tls as store
from service.db.pool import create_pool
from service.tls import TlsSettings, make_authority, verify_server
from tests.helpers import create_database, drop_database

NOW = datetime.now(UTC)
BOX = SecretBox((Fernet.generate_key().decode(),))
PLAIN = TlsSettings()


@pytest.fixture
async def url() -> AsyncIterator[str]:
    """A database of the test's own: the CA is one per database."""
    url = await create_database()
    yield url
    await drop_database(url)


@pytest.fixture
async def pool(url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(url, min_size=1, max_size=4)
    yield pool
    await pool.close()


async def test_processes_starting_together_make_one_ca(url: str) -> None:
    pools = [await create_pool(url, min_size=1, max_size=1) for _ in range(4)]
    try:
        made = await asyncio.gather(*(store.ensure_ca(p, BOX, PLAIN, now=NOW) for p in pools))
        assert len({a.fingerprint for a in made}) == 1
        assert await pools[0].fetchval("SELECT count(*) FROM tls_authorities") == 1
        # A later start finds it.
        again = await store.ensure_ca(pools[1], BOX, PLAIN, now=NOW + timedelta(days=1))
        assert again.id == made[0].id
    finally:
        for p in pools:
            await p.close()
    only = made[0]
    assert (only.state, only.source) == ("active", "generated")
    assert only.not_after - only.not_before > timedelta(days=3650)


async def test_no_private_key_in_clear_in_any_row(pool: asyncpg.Pool) -> None:
    await store.ensure_ca(pool, BOX, PLAIN, now=NOW)
    record, _ = await store.issue_certificate(
        pool, BOX, instance_id="i-abcdefgh", address="127.0.0.1", days=90, now=NOW
    )
    key = await store.key_pem(pool, BOX, record.id)
    cert = x509.load_pem_x509_certificate(record.certificate_pem.encode())
    assert serialization.load_pem_private_key(key.encode(), None).public_key() == cert.public_key()
    _, authority = await store.signing_authority(pool, BOX)
    secrets = [key, authority.key_pem()]
    for table in ("tls_authorities", "tls_certificates"):
        for row in await pool.fetch(f"SELECT * FROM {table}"):  # noqa: S608 - constant table names
            for value in row.values():
                text = bytes(value).decode("latin-1") if isinstance(value, bytes) else str(value)
                assert "PRIVATE KEY" not in text
                for secret in secrets:
                    assert secret.splitlines()[1] not in text
    # Sealed with the service key: another key opens nothing.
    with pytest.raises(ValueError, match="cannot be decrypted"):
        await store.key_pem(pool, SecretBox((Fernet.generate_key().decode(),)), record.id)


async def test_the_operators_ca_takes_over_and_the_old_one_stays_in_the_bundle(pool: asyncpg.Pool) -> None:
    made = await store.ensure_ca(pool, BOX, PLAIN, now=NOW)
    operator = make_authority(NOW)
    settings = TlsSettings(ca=operator)
    imported = await store.ensure_ca(pool, BOX, settings, now=NOW)
    assert (imported.state, imported.source) == ("active", "operator")
    assert imported.fingerprint == operator.fingerprint
    states = {a.id: a.state for a in await store.authorities(pool)}
    assert states == {made.id: "retiring", imported.id: "active"}
    assert await store.bundle_pem(pool) == operator.certificate_pem + made.certificate_pem
    # The same settings again change nothing; without them the stored operator CA stays.
    assert (await store.ensure_ca(pool, BOX, settings, now=NOW)).id == imported.id
    assert (await store.ensure_ca(pool, BOX, PLAIN, now=NOW)).id == imported.id
    _, signing = await store.signing_authority(pool, BOX)
    assert signing.fingerprint == operator.fingerprint


async def test_a_certificate_is_pending_until_confirmed_and_a_retry_ships_the_same(
    pool: asyncpg.Pool,
) -> None:
    await store.ensure_ca(pool, BOX, PLAIN, now=NOW)
    first, ca = await store.issue_certificate(
        pool, BOX, instance_id="i-abcdefgh", address="127.0.0.1", days=90, now=NOW
    )
    assert first.state == "pending"
    assert first.names == ("IP:127.0.0.1", "DNS:i-abcdefgh")
    verify_server(first.certificate_pem, ca, host="127.0.0.1", now=NOW)
    assert await store.current(pool, "i-abcdefgh") is None
    # A retry (the run failed, the worker died) ships the same certificate and key.
    retry, _ = await store.issue_certificate(
        pool, BOX, instance_id="i-abcdefgh", address="127.0.0.1", days=90, now=NOW
    )
    assert retry.id == first.id
    # Another address (the instance moved) is a new certificate that replaces the pending one.
    moved, _ = await store.issue_certificate(
        pool, BOX, instance_id="i-abcdefgh", address="10.0.0.5", days=90, now=NOW
    )
    assert moved.id != first.id
    assert (await store.pending(pool, "i-abcdefgh")) == moved
    assert not await store.confirm(pool, "i-abcdefgh", "", first.fingerprint)
    assert await store.confirm(pool, "i-abcdefgh", "", moved.fingerprint)
    assert not await store.confirm(pool, "i-abcdefgh", "", moved.fingerprint)  # once
    now_current = await store.current(pool, "i-abcdefgh")
    assert now_current is not None
    assert (now_current.id, now_current.state) == (moved.id, "current")
    # Renewed: the new one is pending beside the current, then replaces it (its key goes too).
    renewed, _ = await store.issue_certificate(
        pool, BOX, instance_id="i-abcdefgh", address="10.0.0.5", days=90, now=NOW
    )
    assert renewed.id != moved.id
    assert await store.confirm(pool, "i-abcdefgh", "", renewed.fingerprint)
    assert await pool.fetchval("SELECT count(*) FROM tls_certificates") == 1
    with pytest.raises(LookupError):
        await store.key_pem(pool, BOX, moved.id)
    # Members of one instance have their own.
    member, _ = await store.issue_certificate(
        pool, BOX, instance_id="i-abcdefgh", member="i-abcdefgh-m1", purpose="member",
        address="10.0.0.6", days=90, now=NOW,
    )  # fmt: skip
    assert member.purpose == "member"
    assert await store.forget(pool, "i-abcdefgh") == 2
    assert await store.current(pool, "i-abcdefgh") is None


async def test_renewal_and_a_ca_rotation(pool: asyncpg.Pool) -> None:
    old = await store.ensure_ca(pool, BOX, PLAIN, now=NOW)
    for instance_id in ("i-aaaaaaaa", "i-bbbbbbbb"):
        record, _ = await store.issue_certificate(
            pool, BOX, instance_id=instance_id, address="127.0.0.1", days=30, now=NOW
        )
        await store.confirm(pool, instance_id, "", record.fingerprint)
    assert await store.due(pool, NOW + timedelta(days=19), 10) == []
    due = await store.due(pool, NOW + timedelta(days=20, minutes=1), 10)
    assert {c.instance_id for c in due} == {"i-aaaaaaaa", "i-bbbbbbbb"}

    new = await store.begin_rotation(pool, BOX, now=NOW)
    assert [a.id for a in await store.authorities(pool)] == [new.id, old.id]
    # Every certificate of the retiring CA is due at once, whatever its age.
    assert len(await store.due(pool, NOW, 10)) == 2
    assert not await store.drop_retiring(pool, old.id)
    for instance_id in ("i-aaaaaaaa", "i-bbbbbbbb"):
        record, ca = await store.issue_certificate(
            pool, BOX, instance_id=instance_id, address="127.0.0.1", days=30, now=NOW
        )
        assert record.authority_id == new.id
        # Shipped with both CAs in the bundle: clients holding either verify it.
        assert old.certificate_pem in ca
        assert new.certificate_pem in ca
        assert await store.confirm(pool, instance_id, "", record.fingerprint)
    assert await store.due(pool, NOW, 10) == []
    assert not await store.drop_retiring(pool, new.id)  # the active CA is never dropped
    assert await store.drop_retiring(pool, old.id)
    assert await store.bundle_pem(pool) == new.certificate_pem
