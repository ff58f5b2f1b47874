"""Accounts against the real service: quota and usage in /me and the admin's user views;
over quota nothing is recorded; two creates at the limit never both pass; disabling a
user revokes its tokens and refuses its logins; changing one's own password."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Iterator

import asyncpg
import pytest

from service.accounts.endpoints import THROTTLE
from tests.helpers import Api

WRONG = "wrong username or password"


@pytest.fixture(autouse=True)
def fresh_brake(service: Api) -> Iterator[None]:
    app = service.client.server.app
    assert app is not None
    app[THROTTLE].reset()
    yield
    app[THROTTLE].reset()


async def new_user(service: Api, admin_token: str, prefix: str) -> tuple[str, str, str]:
    """(username, password, token)"""
    username = f"{prefix}-{secrets.token_hex(3)}"
    password = secrets.token_urlsafe(16)
    status, body = await service.call(
        "POST", "/users", admin_token, json={"username": username, "password": password}
    )
    assert status == 201, body
    return username, password, await service.login(username, password)


async def patch(service: Api, admin_token: str, username: str, body: object) -> tuple[int, dict[str, object]]:
    return await service.call("PATCH", f"/users/{username}", admin_token, json=body)


async def counts(db: asyncpg.Pool) -> tuple[int, int, int]:
    row = await db.fetchrow(
        "SELECT (SELECT count(*) FROM instances) AS i, (SELECT count(*) FROM operations) AS o,"
        " (SELECT count(*) FROM port_claims) AS p"
    )
    assert row is not None
    return row["i"], row["o"], row["p"]


async def test_me_and_the_user_views_show_quota_and_usage(service: Api, admin_token: str) -> None:
    username, _, token = await new_user(service, admin_token, "acc-q")
    status, me = await service.call("GET", "/me", token)
    assert status == 200, me
    assert me["disabled"] is False
    assert me["quota"] == {
        "instances": {"limit": 20, "used": 0, "default": True},
        "memory_mb": {"limit": 8192, "used": 0, "default": True},
        "backup_mb": {"limit": 10240, "used": 0, "default": True},
    }
    status, one = await service.call("GET", f"/users/{username}", admin_token)
    assert status == 200
    assert one == me
    status, listing = await service.call("GET", "/users", admin_token)
    assert status == 200
    assert next(u for u in listing["items"] if u["username"] == username) == me
    # Only admins; a name that cannot exist is a 404, never a database error.
    assert (await service.call("GET", f"/users/{username}", token))[0] == 403
    assert (await service.call("GET", "/users", token))[0] == 403
    for name in ("nobody-here", "bad%00name", "UPPER", "x" * 300):
        status, body = await service.call("GET", f"/users/{name}", admin_token)
        assert status == 404, (name, body)


async def test_admins_set_quotas_and_null_restores_the_default(service: Api, admin_token: str) -> None:
    username, _, token = await new_user(service, admin_token, "acc-s")
    status, body = await patch(
        service, admin_token, username, {"quota": {"instances": 3, "memory_mb": 1024, "backup_mb": 50}}
    )
    assert status == 200, body
    assert body["quota"] == {
        "instances": {"limit": 3, "used": 0, "default": False},
        "memory_mb": {"limit": 1024, "used": 0, "default": False},
        "backup_mb": {"limit": 50, "used": 0, "default": False},
    }
    # A key left out is kept; null goes back to the default.
    status, body = await patch(service, admin_token, username, {"quota": {"instances": None}})
    assert status == 200, body
    assert body["quota"]["instances"] == {"limit": 20, "used": 0, "default": True}
    assert body["quota"]["memory_mb"]["limit"] == 1024
    assert body["quota"]["backup_mb"]["limit"] == 50
    status, body = await patch(service, admin_token, username, {"quota": {"backup_mb": None}})
    assert body["quota"]["backup_mb"] == {"limit": 10240, "used": 0, "default": True}
    for bad, field in [
        ({"quota": {"backup_mb": -1}}, "quota.backup_mb"),
        ({"quota": {"instances": -1}}, "quota.instances"),
        ({"quota": {"instances": "5"}}, "quota.instances"),
        ({"quota": {"memory_mb": 10**12}}, "quota.memory_mb"),
        ({"quota": {"cpus": 2}}, "quota.cpus"),
        ({"disabled": "yes"}, "disabled"),
        ({"owner": "me"}, "owner"),
    ]:
        status, body = await patch(service, admin_token, username, bad)
        assert status == 422, (bad, body)
        assert [d["field"] for d in body["error"]["details"]] == [field], bad
    status, body = await patch(service, token, username, {"quota": {"instances": 100}})
    assert status == 403  # not for the user themself
    assert (await patch(service, admin_token, "nobody-here", {"disabled": True}))[0] == 404


async def test_over_quota_is_refused_and_nothing_is_recorded(
    service: Api, admin_token: str, db: asyncpg.Pool
) -> None:
    username, _, token = await new_user(service, admin_token, "acc-o")
    assert (await patch(service, admin_token, username, {"quota": {"instances": 0}}))[0] == 200
    before = await counts(db)
    status, body = await service.call("POST", "/instances", token, json={"engine": "redis"})
    assert status == 403, body
    assert body["error"]["code"] == "quota_exceeded"
    assert [d["field"] for d in body["error"]["details"]] == ["quota.instances"]
    assert "0 of at most 0 instances" in body["error"]["message"]
    assert await counts(db) == before

    # Memory: one instance would be allowed, but not its memory.
    assert (await patch(service, admin_token, username, {"quota": {"instances": None, "memory_mb": 100}}))[
        0
    ] == 200
    status, body = await service.call(
        "POST", "/instances", token, json={"engine": "mysql", "settings": {"memory_mb": 256}}
    )
    assert status == 403, body
    assert body["error"]["code"] == "quota_exceeded"
    assert [d["field"] for d in body["error"]["details"]] == ["quota.memory_mb"]
    assert "needs 256 MB" in body["error"]["message"]
    assert "of at most 100 MB" in body["error"]["message"]
    assert await counts(db) == before


async def test_concurrent_creates_at_the_limit_exactly_one_passes(
    service: Api, admin_token: str, db: asyncpg.Pool
) -> None:
    username, _, token = await new_user(service, admin_token, "acc-r")
    assert (await patch(service, admin_token, username, {"quota": {"instances": 1}}))[0] == 200
    before = await counts(db)
    answers = await asyncio.gather(
        *(service.call("POST", "/instances", token, json={"engine": "redis"}) for _ in range(6))
    )
    statuses = sorted(s for s, _ in answers)
    assert statuses == [202] + [403] * 5, answers
    created = next(b for s, b in answers if s == 202)
    assert await counts(db) == (before[0] + 1, before[1] + 1, before[2] + 1)
    status, me = await service.call("GET", "/me", token)
    assert me["quota"]["instances"] == {"limit": 1, "used": 1, "default": False}
    assert me["quota"]["memory_mb"]["used"] == created["memory_mb"]
    # Deleting gives the room back.
    status, _ = await service.call("DELETE", f"/instances/{created['id']}?wait=120", token)
    assert status == 204
    status, me = await service.call("GET", "/me", token)
    assert me["quota"]["instances"] == {"limit": 1, "used": 0, "default": False}


async def test_disabling_revokes_tokens_and_refuses_logins(service: Api, admin_token: str) -> None:
    username, password, token = await new_user(service, admin_token, "acc-d")
    second = await service.login(username, password)
    status, body = await patch(service, admin_token, username, {"disabled": True})
    assert status == 200, body
    assert body["disabled"] is True
    for old in (token, second):
        status, body = await service.call("GET", "/me", old)
        assert status == 401, body
    status, body = await service.call(
        "POST", "/auth/login", json={"username": username, "password": password}
    )
    assert status == 401
    assert body["error"]["message"] == WRONG
    # Still braked like any login: the right password of a disabled user gains nothing.
    statuses = []
    for _ in range(6):
        status, _ = await service.call(
            "POST", "/auth/login", json={"username": username, "password": password}
        )
        statuses.append(status)
    assert statuses == [401] * 4 + [429] * 2
    app = service.client.server.app
    assert app is not None
    app[THROTTLE].reset()
    # Re-enabled: logins work again, the old tokens stay revoked.
    status, body = await patch(service, admin_token, username, {"disabled": False})
    assert status == 200
    assert body["disabled"] is False
    fresh = await service.login(username, password)
    assert (await service.call("GET", "/me", fresh))[0] == 200
    assert (await service.call("GET", "/me", token))[0] == 401


async def test_an_admin_cannot_disable_themself(service: Api, admin_token: str) -> None:
    status, body = await patch(service, admin_token, "admin", {"disabled": True})
    assert status == 409, body
    assert body["error"]["details"][0]["field"] == "disabled"
    assert (await service.call("GET", "/me", admin_token))[0] == 200


async def test_changing_ones_password(service: Api, admin_token: str) -> None:
    username, password, token = await new_user(service, admin_token, "acc-p")
    other = await service.login(username, password)
    new = "a-new-password-" + secrets.token_hex(4)
    status, body = await service.call(
        "POST", "/me/password", token, json={"current_password": "not-it-at-all", "new_password": new}
    )
    assert status == 403, body
    assert body["error"]["details"][0]["field"] == "current_password"
    status, body = await service.call(
        "POST", "/me/password", token, json={"current_password": password, "new_password": "short"}
    )
    assert status == 422
    assert [d["field"] for d in body["error"]["details"]] == ["new_password"]
    status, body = await service.call(
        "POST", "/me/password", token, json={"current_password": password, "new_password": new}
    )
    assert status == 204, body
    assert (await service.call("GET", "/me", token))[0] == 200  # this request's token stays
    assert (await service.call("GET", "/me", other))[0] == 401  # every other one is revoked
    status, body = await service.call(
        "POST", "/auth/login", json={"username": username, "password": password}
    )
    assert status == 401
    await service.login(username, new)


async def test_the_current_password_is_braked_like_a_login(service: Api, admin_token: str) -> None:
    _, password, token = await new_user(service, admin_token, "acc-b")
    statuses = []
    for _ in range(7):
        status, _ = await service.call(
            "POST", "/me/password", token, json={"current_password": "guess-guess", "new_password": "x" * 12}
        )
        statuses.append(status)
    assert statuses == [403] * 5 + [429] * 2
    status, _ = await service.call(
        "POST", "/me/password", token, json={"current_password": password, "new_password": "y" * 12}
    )
    assert status == 429  # the right one waits too: the brake runs before the hash
