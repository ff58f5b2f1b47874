"""service/db/tls.py against the real PostgreSQL: certificates pending -> current (a retry
ships the same one), renewal at two thirds of their life, and no private key in clear in
any row."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
from cryptography import x509
from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import serialization

from service.crypto import SecretBox
from service.db import tls as store
from service.db import tls_authorities as cas
from service.tls import TlsSettings, verify_server

NOW = datetime.now(UTC)
BOX = SecretBox((Fernet.generate_key().decode(),))
PLAIN = TlsSettings()


async def test_no_private_key_in_clear_in_any_row(pool: asyncpg.Pool) -> None:
    await cas.ensure_ca(pool, BOX, PLAIN, now=NOW)
    record, _ = await store.issue_certificate(
        pool, BOX, instance_id="i-abcdefgh", address="127.0.0.1", days=90, now=NOW
    )
    key = await store.key_pem(pool, BOX, record.id)
    cert = x509.load_pem_x509_certificate(record.certificate_pem.encode())
    assert serialization.load_pem_private_key(key.encode(), None).public_key() == cert.public_key()
    _, authority = await cas.signing_authority(pool, BOX)
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


async def test_a_certificate_is_pending_until_confirmed_and_a_retry_ships_the_same(
    pool: asyncpg.Pool,
) -> None:
    await cas.ensure_ca(pool, BOX, PLAIN, now=NOW)
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


async def test_renewal_falls_due_at_two_thirds(pool: asyncpg.Pool) -> None:
    await cas.ensure_ca(pool, BOX, PLAIN, now=NOW)
    issued = [
        (await store.issue_certificate(pool, BOX, instance_id=i, address="127.0.0.1", days=30, now=NOW))[0]
        for i in ("i-aaaaaaaa", "i-bbbbbbbb")
    ]
    assert await store.due(pool, NOW + timedelta(days=29), 10) == []  # pending is not due
    for record in issued:
        assert await store.confirm(pool, record.instance_id, "", record.fingerprint)
    assert await store.due(pool, NOW + timedelta(days=19), 10) == []
    due = await store.due(pool, NOW + timedelta(days=20, minutes=1), 10)
    assert {c.instance_id for c in due} == {"i-aaaaaaaa", "i-bbbbbbbb"}
    assert len(await store.due(pool, NOW + timedelta(days=21), 1)) == 1
