"""The login brake (service/accounts/throttle.py) against the real service: one user's failed
logins lock out nobody else at the same address; concurrent guesses are charged before
argon2 runs; unknown names are braked like known ones; an address that logged in before
keeps working while the account's budget is spent elsewhere; spraying from one address
stops; a full argon2 pool answers 503 at once. Other loopback addresses (127.0.0.x) stand
in for other clients."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiohttp
import pytest

from service.accounts.endpoints import PASSWORDS, THROTTLE
from service.passwords import Busy, PasswordPool
from tests.helpers import ADMIN_PASSWORD, Api


@pytest.fixture(autouse=True)
def fresh_brake(service: Api) -> Iterator[None]:
    """Every test starts and ends with empty budgets (all tests share 127.0.0.1)."""
    app = service.client.server.app
    assert app is not None
    app[THROTTLE].reset()
    yield
    app[THROTTLE].reset()


async def new_user(service: Api, admin_token: str, prefix: str) -> tuple[str, str]:
    username = f"{prefix}-{secrets.token_hex(3)}"
    password = secrets.token_urlsafe(16)
    status, body = await service.call(
        "POST", "/users", admin_token, json={"username": username, "password": password}
    )
    assert status == 201, body
    return username, password


async def login(service: Api, username: str, password: str) -> int:
    status, _ = await service.call("POST", "/auth/login", json={"username": username, "password": password})
    return status


class From:
    """Logins sent from another loopback address than the test client's 127.0.0.1."""

    def __init__(self, service: Api, address: str) -> None:
        self.url = service.client.make_url("/api/v1/auth/login")
        self.session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(local_addr=(address, 0)))

    async def login(self, username: str, password: str) -> tuple[int, dict[str, Any]]:
        async with self.session.post(self.url, json={"username": username, "password": password}) as resp:
            return resp.status, await resp.json()

    async def close(self) -> None:
        await self.session.close()


@pytest.fixture
async def clients(service: Api) -> AsyncIterator[dict[str, From]]:
    made: dict[str, From] = {}

    class Lazy(dict[str, From]):
        def __missing__(self, address: str) -> From:
            self[address] = made[address] = found = From(service, address)
            return found

    yield Lazy()
    for client in made.values():
        await client.close()


async def test_one_users_failures_lock_out_nobody_else_at_the_address(service: Api, admin_token: str) -> None:
    victim, _ = await new_user(service, admin_token, "thr-a")
    other, other_password = await new_user(service, admin_token, "thr-b")
    statuses = [await login(service, victim, "wrong-password-123") for _ in range(30)]
    # Same address, other accounts: not braked.
    assert await login(service, "admin", ADMIN_PASSWORD) == 200
    assert await login(service, other, other_password) == 200
    assert statuses[:5] == [401] * 5
    assert set(statuses[5:]) == {429}


async def test_concurrent_guesses_are_charged_before_the_hash(service: Api, admin_token: str) -> None:
    username, _ = await new_user(service, admin_token, "thr-c")
    app = service.client.server.app
    assert app is not None
    before = app[PASSWORDS].verified
    statuses = await asyncio.gather(*(login(service, username, f"guess-{i:04d}-xx") for i in range(20)))
    assert sorted(statuses) == [401] * 5 + [429] * 15
    assert app[PASSWORDS].verified - before == 5  # only the guesses that got a budget reached argon2


async def test_an_unknown_name_is_braked_like_a_known_one(service: Api, admin_token: str) -> None:
    known, _ = await new_user(service, admin_token, "thr-k")
    unknown = f"nobody-{secrets.token_hex(3)}"
    app = service.client.server.app
    assert app is not None
    before = app[PASSWORDS].verified
    seen_known = [await login(service, known, "wrong-password-123") for _ in range(8)]
    mid = app[PASSWORDS].verified
    seen_unknown = [await login(service, unknown, "wrong-password-123") for _ in range(8)]
    assert seen_known == seen_unknown == [401] * 5 + [429] * 3
    assert mid - before == app[PASSWORDS].verified - mid == 5  # both verified against a hash


async def test_after_five_wrong_guesses_even_the_right_password_waits(service: Api, admin_token: str) -> None:
    username, password = await new_user(service, admin_token, "thr-w")
    for _ in range(5):
        assert await login(service, username, "wrong-password-123") == 401
    async with service.client.post(
        "/api/v1/auth/login", json={"username": username, "password": password}
    ) as resp:
        # The brake cannot tell the right password apart without hashing it.
        assert resp.status == 429
        assert 1 <= int(resp.headers["Retry-After"]) <= 15  # the first backoff step
        assert (await resp.json())["error"]["code"] == "too_many_requests"


async def test_the_account_budget_spares_addresses_that_logged_in_before(
    service: Api, admin_token: str, clients: dict[str, From]
) -> None:
    username, password = await new_user(service, admin_token, "thr-d")
    assert await login(service, username, password) == 200  # 127.0.0.1 is now known for it
    # Guessing from six other addresses: 5 each would be 30, the account allows 20 (and one
    # more per 30 s: the bound below leaves room for a slow machine).
    started = time.monotonic()
    statuses = []
    for n in range(2, 8):
        for _ in range(5):
            status, _body = await clients[f"127.0.0.{n}"].login(username, "wrong-password-123")
            statuses.append(status)
    refilled = (time.monotonic() - started) / 30
    assert set(statuses) == {401, 429}
    assert 20 <= statuses.count(401) <= 20 + refilled + 1
    # A new address waits for the account's budget, even with the right password ...
    status, body = await clients["127.0.0.8"].login(username, password)
    assert status == 429, body
    # ... where the user logged in before, the right password works.
    assert await login(service, username, password) == 200


async def test_spraying_from_one_address_stops_there(
    service: Api, admin_token: str, clients: dict[str, From]
) -> None:
    sprayer = clients["127.0.0.9"]
    # All at once, so the budget (30, then one per 2 s) cannot refill while argon2 works. The
    # guesses past the password pool's capacity answer 503 and are not charged.
    answers = await asyncio.gather(
        *(sprayer.login(f"victim-{i}-{secrets.token_hex(2)}", "Summer2024!!x") for i in range(45))
    )
    statuses = [status for status, _ in answers]
    assert set(statuses) <= {401, 429, 503}
    assert statuses.count(401) <= 32  # one guess per account: only the address budget holds
    assert statuses.count(429) >= 12
    assert await login(service, "admin", ADMIN_PASSWORD) == 200  # other addresses are not touched


async def test_a_full_password_pool_answers_503_at_once(service: Api, admin_token: str) -> None:
    username, password = await new_user(service, admin_token, "thr-p")
    app = service.client.server.app
    assert app is not None
    pool = app[PASSWORDS]
    capacity = 2 + 16  # DBVEND_PASSWORD_WORKERS and DBVEND_PASSWORD_QUEUE defaults
    jobs = [asyncio.ensure_future(pool.hash(f"filler-{i}-password")) for i in range(capacity)]
    await asyncio.sleep(0)  # each job is submitted on its first step
    try:
        assert pool.jobs == capacity
        status, body = await service.call(
            "POST", "/auth/login", json={"username": username, "password": password}
        )
        assert status == 503, body
        assert body["error"]["code"] == "unavailable"
    finally:
        await asyncio.gather(*jobs)
    # The refused attempt was never evaluated, so it cost no budget: the login now works.
    assert await login(service, username, password) == 200


async def test_the_password_pool_bounds_its_queue() -> None:
    pool = PasswordPool(workers=1, queue=1)
    try:
        first = asyncio.ensure_future(pool.hash("one-password-here"))
        second = asyncio.ensure_future(pool.hash("two-password-here"))
        await asyncio.sleep(0)
        with pytest.raises(Busy):
            await pool.hash("three-password-here")
        assert (await first).startswith("$argon2id$")
        assert (await second).startswith("$argon2id$")
        assert pool.jobs == 0
        assert await pool.verify(await pool.hash("four-password-here"), "four-password-here")
    finally:
        pool.close()
