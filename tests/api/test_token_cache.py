"""The per-process token cache (service/accounts/token_cache.py) never outlives what it caches:
a revocation through this process is refused at once (logout, a password change, an admin
disabling the user), one made elsewhere (another service process: here an UPDATE straight
in PostgreSQL) within DBVEND_TOKEN_CACHE_SECONDS (2 s by default), and an entry never
outlives the token's own expiry."""

from __future__ import annotations

import asyncio
import secrets
import time
from datetime import UTC, datetime, timedelta

import asyncpg

from service import crypto
from service.accounts.token_cache import TokenCache
from service.db.users import User
from tests.conftest import UserFactory
from tests.helpers import Api

TTL = 2.0  # the default of DBVEND_TOKEN_CACHE_SECONDS, which the test service uses


async def _me(service: Api, token: str) -> int:
    status, _ = await service.call("GET", "/me", token)
    return status


async def test_a_token_revoked_by_another_process_is_refused_within_the_ttl(
    service: Api, make_user: UserFactory, db: asyncpg.Pool
) -> None:
    _, token = await make_user("tc")
    assert await _me(service, token) == 200  # now cached
    await db.execute(
        "UPDATE api_tokens SET revoked_at = now() WHERE token_hash = $1", crypto.token_digest(token)
    )
    revoked = time.monotonic()
    while await _me(service, token) == 200:
        assert time.monotonic() - revoked < TTL + 3, "a revoked token outlived the cache's bound"
        await asyncio.sleep(0.1)
    assert await _me(service, token) == 401


async def test_a_user_disabled_by_another_process_is_refused_within_the_ttl(
    service: Api, make_user: UserFactory, db: asyncpg.Pool
) -> None:
    username, token = await make_user("tc")
    assert await _me(service, token) == 200
    await db.execute("UPDATE users SET disabled_at = now() WHERE username = $1", username)
    disabled = time.monotonic()
    while await _me(service, token) == 200:
        assert time.monotonic() - disabled < TTL + 3
        await asyncio.sleep(0.1)


async def test_revocations_through_this_process_are_refused_at_once(
    service: Api, make_user: UserFactory, admin_token: str
) -> None:
    # Logout.
    _, token = await make_user("tc")
    assert await _me(service, token) == 200
    status, _ = await service.call("POST", "/auth/logout", token)
    assert status == 204
    assert await _me(service, token) == 401
    # An admin disables the user: every cached token of theirs goes.
    username, token = await make_user("tc")
    assert await _me(service, token) == 200
    status, body = await service.call("PATCH", f"/users/{username}", admin_token, json={"disabled": True})
    assert status == 200, body
    assert await _me(service, token) == 401


async def test_a_password_change_refuses_the_other_tokens_at_once(service: Api, admin_token: str) -> None:
    username, password = f"tc-{secrets.token_hex(3)}", secrets.token_urlsafe(16)
    status, body = await service.call(
        "POST", "/users", admin_token, json={"username": username, "password": password}
    )
    assert status == 201, body
    first, second = await service.login(username, password), await service.login(username, password)
    assert await _me(service, first) == 200
    assert await _me(service, second) == 200
    status, body = await service.call(
        "POST",
        "/me/password",
        second,
        json={"current_password": password, "new_password": secrets.token_urlsafe(16)},
    )
    assert status == 204, body
    assert await _me(service, first) == 401
    assert await _me(service, second) == 200  # the token of the change stays valid


def _user(uid: int) -> User:
    return User(uid, f"u{uid}", False, datetime.now(UTC))


def test_an_entry_never_outlives_its_token_or_the_bound() -> None:
    cache = TokenCache(ttl=60, max_entries=2)
    cache.put(b"a", _user(1), datetime.now(UTC) + timedelta(seconds=0.2))
    cache.put(b"b", _user(1), datetime.now(UTC) - timedelta(seconds=1))  # expired: not kept
    assert cache.get(b"a") is not None
    assert cache.get(b"b") is None
    time.sleep(0.3)
    assert cache.get(b"a") is None  # the token expired before the cache's ttl
    for key in (b"x", b"y", b"z"):
        cache.put(key, _user(2), datetime.now(UTC) + timedelta(hours=1))
    assert len(cache) == 2
    assert cache.get(b"x") is None  # the oldest went
    cache.drop_user(2)
    assert len(cache) == 0
    off = TokenCache(ttl=0)
    off.put(b"a", _user(1), datetime.now(UTC) + timedelta(hours=1))
    assert off.get(b"a") is None


def test_opened_secrets_are_copies_and_a_new_seal_is_a_new_entry() -> None:
    from cryptography.fernet import Fernet

    from service.crypto import SecretBox

    box = SecretBox((Fernet.generate_key().decode(),), remember=1)
    blob = box.seal({"password": "one"})
    box.open(blob)["password"] = "changed by a caller"
    assert box.open(blob) == {"password": "one"}
    assert box.open(box.seal({"password": "two"})) == {"password": "two"}
    assert box.open(blob) == {"password": "one"}  # evicted (remember=1) and decrypted again
