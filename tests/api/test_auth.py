from __future__ import annotations

import asyncpg

from service import crypto
from service.accounts.endpoints import THROTTLE
from tests.conftest import UserFactory
from tests.helpers import ADMIN_PASSWORD, Api


async def test_login_me_logout(service: Api) -> None:
    token = await service.login("admin", ADMIN_PASSWORD)
    status, me = await service.call("GET", "/me", token)
    assert status == 200
    assert me["username"] == "admin"
    assert me["is_admin"] is True
    status, _ = await service.call("POST", "/auth/logout", token)
    assert status == 204
    status, body = await service.call("GET", "/me", token)
    assert status == 401
    assert body["error"]["code"] == "unauthorized"


async def test_wrong_password_and_unknown_user_look_alike(service: Api) -> None:
    s1, b1 = await service.call("POST", "/auth/login", json={"username": "admin", "password": "wrong-one"})
    s2, b2 = await service.call("POST", "/auth/login", json={"username": "nobody", "password": "wrong-one"})
    assert s1 == s2 == 401
    assert b1["error"]["message"] == b2["error"]["message"]


async def test_routes_need_a_token(service: Api) -> None:
    for method, path in [
        ("GET", "/me"),
        ("GET", "/instances"),
        ("POST", "/instances"),
        ("GET", "/instances/i-x"),
        ("DELETE", "/instances/i-x"),
        ("GET", "/operations/op-x"),
    ]:
        status, body = await service.call(method, path)
        assert status == 401, (method, path)
        assert body["error"]["code"] == "unauthorized"
    status, _ = await service.call("GET", "/me", "dbv_not-a-real-token")
    assert status == 401


async def test_tokens_and_passwords_are_stored_hashed(service: Api, db: asyncpg.Pool) -> None:
    token = await service.login("admin", ADMIN_PASSWORD)
    stored = await db.fetchval(
        "SELECT count(*) FROM api_tokens WHERE token_hash = $1", crypto.token_digest(token)
    )
    assert stored == 1
    raw = await db.fetchval("SELECT count(*) FROM api_tokens WHERE token_hash = $1", token.encode())
    assert raw == 0
    password_hash = await db.fetchval("SELECT password_hash FROM users WHERE username = 'admin'")
    assert password_hash.startswith("$argon2id$")
    assert ADMIN_PASSWORD not in password_hash


async def test_only_admins_create_users(service: Api, make_user: UserFactory, admin_token: str) -> None:
    _, token = await make_user("plain")
    status, body = await service.call(
        "POST", "/users", token, json={"username": "sneaky", "password": "x" * 16}
    )
    assert status == 403
    assert body["error"]["code"] == "forbidden"
    status, body = await service.call(
        "POST", "/users", admin_token, json={"username": "Bad Name!", "password": "short"}
    )
    assert status == 422
    assert {d["field"] for d in body["error"]["details"]} == {"username", "password"}


async def test_duplicate_user_is_a_conflict(service: Api, make_user: UserFactory, admin_token: str) -> None:
    username, _ = await make_user("dup")
    status, _body = await service.call(
        "POST", "/users", admin_token, json={"username": username, "password": "y" * 16}
    )
    assert status == 409


async def test_password_guessing_is_braked(service: Api) -> None:
    headers = {"X-Forwarded-For": "ignored"}  # the brake keys on the peer address, not on headers
    statuses = []
    for _ in range(12):
        status, _ = await service.call(
            "POST", "/auth/login", headers=headers, json={"username": "admin", "password": "guess"}
        )
        statuses.append(status)
    assert 429 in statuses
    # Clear the brake for the rest of the session (same peer address for every test).
    service.client.server.app[THROTTLE].reset()
