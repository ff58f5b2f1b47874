"""Bad day-2 requests are 4xx naming the field, and record nothing: rotate's grace_seconds
(bounds, type, MariaDB has no dual passwords), PATCH's settings (unknown keys, types, the
quota for a bigger size), and a PATCH that changes nothing answers 200 with no operation."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest

from tests.conftest import UserFactory
from tests.helpers import Api


async def _ops(db: asyncpg.Pool, iid: str) -> int:
    return int(await db.fetchval("SELECT count(*) FROM operations WHERE instance_id = $1", iid))


def _fields(body: dict[str, Any]) -> list[str]:
    return [d["field"] for d in body["error"]["details"]]


@pytest.fixture(scope="module")
async def running_redis(service: Api, make_user: UserFactory) -> tuple[str, str, dict[str, Any]]:
    username, token = await make_user("day2v")
    status, inst = await service.call(
        "POST", "/instances?wait=120", token, json={"engine": "redis", "settings": {"maxmemory": "32mb"}}
    )
    assert status == 201, inst
    return username, token, inst


@pytest.mark.parametrize(
    "body",
    [
        {"grace_seconds": -1},
        {"grace_seconds": 86401},
        {"grace_seconds": "60"},
        {"grace_seconds": True},
        {"grace_seconds": 1.5},
        {"grace_seconds": 0, "password": "mine"},
    ],
)
async def test_rotate_refuses_a_bad_body(
    service: Api, db: asyncpg.Pool, running_redis: tuple[str, str, dict[str, Any]], body: dict[str, Any]
) -> None:
    _, token, inst = running_redis
    before = await _ops(db, inst["id"])
    status, reply = await service.call("POST", f"/instances/{inst['id']}/rotate-password", token, json=body)
    assert status == 422, reply
    assert set(_fields(reply)) <= {"grace_seconds", "password"}
    assert _fields(reply)
    assert await _ops(db, inst["id"]) == before


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"settings": {"bogus": 1}}, "settings.bogus"),
        ({"settings": {"maxclients": "many"}}, "settings.maxclients"),
        ({"settings": {"maxclients": 0}}, "settings.maxclients"),
        ({"settings": {"maxmemory_policy": "lru\u0000"}}, "settings.maxmemory_policy"),
        ({}, "settings"),
        ({"settings": {}, "convert": "yes"}, "convert"),
        ({"settings": {}, "other": 1}, "other"),
    ],
)
async def test_patch_refuses_bad_settings_naming_the_field(
    service: Api,
    db: asyncpg.Pool,
    running_redis: tuple[str, str, dict[str, Any]],
    body: dict[str, Any],
    field: str,
) -> None:
    _, token, inst = running_redis
    before = await _ops(db, inst["id"])
    status, reply = await service.call("PATCH", f"/instances/{inst['id']}", token, json=body)
    assert status == 422, reply
    assert field in _fields(reply)
    assert await _ops(db, inst["id"]) == before


async def test_patch_that_changes_nothing_records_nothing(
    service: Api, db: asyncpg.Pool, running_redis: tuple[str, str, dict[str, Any]]
) -> None:
    _, token, inst = running_redis
    before = await _ops(db, inst["id"])
    same = {"maxclients": inst["settings"]["maxclients"]}
    status, reply = await service.call("PATCH", f"/instances/{inst['id']}", token, json={"settings": same})
    assert status == 200, reply
    assert reply["operation_id"] is None
    assert reply["changes"] == {"live": [], "restart": [], "convert": False}
    assert await _ops(db, inst["id"]) == before


async def test_a_bigger_size_over_the_quota_is_403_and_records_nothing(
    service: Api, admin_token: str, db: asyncpg.Pool, running_redis: tuple[str, str, dict[str, Any]]
) -> None:
    username, token, inst = running_redis
    status, _ = await service.call(
        "PATCH", f"/users/{username}", admin_token, json={"quota": {"memory_mb": inst["memory_mb"]}}
    )
    assert status == 200
    before = await _ops(db, inst["id"])
    status, reply = await service.call(
        "PATCH", f"/instances/{inst['id']}", token, json={"settings": {"maxmemory": "256mb"}}
    )
    assert status == 403, reply
    assert reply["error"]["code"] == "quota_exceeded"
    assert _fields(reply) == ["quota.memory_mb"]
    assert await _ops(db, inst["id"]) == before
    status, again = await service.call("GET", f"/instances/{inst['id']}", token)
    assert again["settings"] == inst["settings"]
    assert again["memory_mb"] == inst["memory_mb"]


async def test_mariadb_has_no_grace_period(service: Api, make_user: UserFactory, db: asyncpg.Pool) -> None:
    _, token = await make_user("day2m")
    status, inst = await service.call("POST", "/instances?wait=240", token, json={"engine": "mysql"})
    assert status == 201, inst
    before = await _ops(db, inst["id"])
    status, reply = await service.call(
        "POST", f"/instances/{inst['id']}/rotate-password", token, json={"grace_seconds": 60}
    )
    assert status == 422, reply
    assert _fields(reply) == ["grace_seconds"]
    assert "MariaDB has no dual passwords" in reply["error"]["message"]
    assert await _ops(db, inst["id"]) == before
    assert (await service.call("DELETE", f"/instances/{inst['id']}?wait=120", token))[0] == 204
