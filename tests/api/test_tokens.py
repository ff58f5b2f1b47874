"""/me/tokens: a user's own tokens. A named one is shown once and works as a bearer token;
the list shows what still works (never a token or its digest) and which is this request's;
revoking by id ends it at once (401); another user's token id is 404; bad names and
lifetimes are 422 naming the field, and nothing is made."""

from __future__ import annotations

import secrets

import asyncpg
import pytest

from tests.conftest import UserFactory
from tests.helpers import Api


async def test_a_named_token_works_until_revoked(
    service: Api, make_user: UserFactory, db: asyncpg.Pool
) -> None:
    _, session = await make_user("tok")
    status, made = await service.call(
        "POST", "/me/tokens", session, json={"name": "ci deploy", "expires_in_days": 30}
    )
    assert status == 201, made
    assert made["name"] == "ci deploy"
    assert made["current"] is False
    token = made["token"]
    status, me = await service.call("GET", "/me", token)
    assert status == 200, me
    status, listing = await service.call("GET", "/me/tokens", token)
    assert status == 200, listing
    by_id = {t["id"]: t for t in listing["items"]}
    assert by_id[made["id"]]["current"] is True
    assert by_id[made["id"]]["name"] == "ci deploy"
    assert sum(1 for t in listing["items"] if t["name"] is None) == 1  # the login's
    assert all("token" not in t for t in listing["items"])
    assert token not in str(listing)
    digest = await db.fetchval("SELECT token_hash FROM api_tokens WHERE id = $1", made["id"])
    assert digest.hex() not in str(listing)
    status, _ = await service.call("DELETE", f"/me/tokens/{made['id']}", session)
    assert status == 204
    status, _ = await service.call("GET", "/me", token)
    assert status == 401
    status, _ = await service.call("DELETE", f"/me/tokens/{made['id']}", session)
    assert status == 404
    status, listing = await service.call("GET", "/me/tokens", session)
    assert made["id"] not in {t["id"] for t in listing["items"]}


async def test_another_users_token_is_not_found(service: Api, make_user: UserFactory) -> None:
    _, alice = await make_user("tok-a")
    _, bob = await make_user("tok-b")
    status, made = await service.call("POST", "/me/tokens", alice, json={"name": "alice-script"})
    assert status == 201, made
    status, _ = await service.call("DELETE", f"/me/tokens/{made['id']}", bob)
    assert status == 404
    status, listing = await service.call("GET", "/me/tokens", bob)
    assert made["id"] not in {t["id"] for t in listing["items"]}
    status, _ = await service.call("GET", "/me", made["token"])
    assert status == 200
    for bad in ("x", "-1", "9" * 19, "1e3", "%00"):
        status, _ = await service.call("DELETE", f"/me/tokens/{bad}", alice)
        assert status == 404, bad


@pytest.fixture(scope="module")
async def token_of_one_user(make_user: UserFactory) -> str:
    return (await make_user("tok-bad"))[1]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": ""}, "name"),
        ({"name": "x" * 65}, "name"),
        ({"name": "tab\there"}, "name"),
        ({"name": " leading"}, "name"),
        ({"name": "ok\n"}, "name"),
        ({"name": "ok", "expires_in_days": 0}, "expires_in_days"),
        ({"name": "ok", "expires_in_days": 366}, "expires_in_days"),
        ({"name": "ok", "expires_in_days": "30"}, "expires_in_days"),
        ({"name": "ok", "scope": "all"}, "scope"),
    ],
)
async def test_bad_requests_name_the_field_and_make_nothing(
    service: Api, token_of_one_user: str, body: dict[str, object], field: str
) -> None:
    token = token_of_one_user
    status, reply = await service.call("POST", "/me/tokens", token, json=body)
    assert status == 422, reply
    assert field in [d["field"] for d in reply["error"]["details"]]
    status, listing = await service.call("GET", "/me/tokens", token)
    assert len(listing["items"]) == 1  # the login's only


async def test_a_password_change_revokes_named_tokens_too(service: Api, admin_token: str) -> None:
    username, password = f"tok-pw-{secrets.token_hex(3)}", secrets.token_urlsafe(16)
    status, _ = await service.call(
        "POST", "/users", admin_token, json={"username": username, "password": password}
    )
    assert status == 201
    session = await service.login(username, password)
    status, made = await service.call("POST", "/me/tokens", session, json={"name": "script"})
    assert status == 201, made
    new_password = secrets.token_urlsafe(16)
    status, _ = await service.call(
        "POST", "/me/password", session, json={"current_password": password, "new_password": new_password}
    )
    assert status == 204
    # The request's own token stays; the named one went with every other token.
    assert (await service.call("GET", "/me", session))[0] == 200
    assert (await service.call("GET", "/me", made["token"]))[0] == 401
