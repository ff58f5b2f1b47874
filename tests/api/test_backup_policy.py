"""backup_policy on PATCH /instances/{id}: alone it records no operation and answers 200
with the instance showing it; null switches it off; bad policies are 422 naming the field
and change nothing; with a settings change both apply, and a refused settings change leaves
the schedule as it was; another user's instance is 404."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest

from tests.conftest import UserFactory
from tests.helpers import Api


async def _ops(db: asyncpg.Pool, iid: str) -> int:
    return int(await db.fetchval("SELECT count(*) FROM operations WHERE instance_id = $1", iid))


async def _stored(db: asyncpg.Pool, iid: str) -> Any:
    return await db.fetchval("SELECT backup_policy FROM instances WHERE id = $1", iid)


def _fields(body: dict[str, Any]) -> list[str]:
    return [d["field"] for d in body["error"]["details"]]


@pytest.fixture(scope="module")
async def running_redis(service: Api, make_user: UserFactory) -> tuple[str, dict[str, Any]]:
    _, token = await make_user("bpol")
    status, inst = await service.call(
        "POST", "/instances?wait=120", token, json={"engine": "redis", "settings": {"maxmemory": "32mb"}}
    )
    assert status == 201, inst
    assert inst["backup_policy"] is None
    return token, inst


@pytest.mark.parametrize(
    ("policy", "field"),
    [
        ({"interval_hours": 0, "keep": 7}, "backup_policy.interval_hours"),
        ({"interval_hours": 721, "keep": 7}, "backup_policy.interval_hours"),
        ({"interval_hours": "24", "keep": 7}, "backup_policy.interval_hours"),
        ({"interval_hours": 24, "keep": 0}, "backup_policy.keep"),
        ({"interval_hours": 24, "keep": 101}, "backup_policy.keep"),
        ({"interval_hours": 24, "keep": 2.5}, "backup_policy.keep"),
        ({"interval_hours": 24}, "backup_policy.keep"),
        ({"interval_hours": 24, "keep": 7, "at": "03:00"}, "backup_policy.at"),
        ("daily", "backup_policy"),
        ([24, 7], "backup_policy"),
    ],
)
async def test_bad_policies_are_422_naming_the_field(
    service: Api, db: asyncpg.Pool, running_redis: tuple[str, dict[str, Any]], policy: Any, field: str
) -> None:
    token, inst = running_redis
    before_ops, before_policy = await _ops(db, inst["id"]), await _stored(db, inst["id"])
    status, reply = await service.call(
        "PATCH", f"/instances/{inst['id']}", token, json={"backup_policy": policy}
    )
    assert status == 422, reply
    assert field in _fields(reply), reply
    assert await _ops(db, inst["id"]) == before_ops
    assert await _stored(db, inst["id"]) == before_policy


async def test_an_empty_patch_is_422(service: Api, running_redis: tuple[str, dict[str, Any]]) -> None:
    token, inst = running_redis
    status, reply = await service.call("PATCH", f"/instances/{inst['id']}", token, json={})
    assert status == 422, reply
    assert _fields(reply) == ["settings"]


async def test_a_policy_alone_records_nothing_and_shows_on_the_instance(
    service: Api, db: asyncpg.Pool, running_redis: tuple[str, dict[str, Any]]
) -> None:
    token, inst = running_redis
    before = await _ops(db, inst["id"])
    policy = {"interval_hours": 24, "keep": 7}
    status, reply = await service.call(
        "PATCH", f"/instances/{inst['id']}", token, json={"backup_policy": policy}
    )
    assert status == 200, reply
    assert reply["operation_id"] is None
    assert reply["backup_policy"] == policy
    assert reply["changes"] == {"live": [], "restart": [], "convert": False}
    assert await _ops(db, inst["id"]) == before
    status, shown = await service.call("GET", f"/instances/{inst['id']}", token)
    assert status == 200
    assert shown["backup_policy"] == policy
    status, page = await service.call("GET", "/instances", token)
    assert status == 200
    assert next(i for i in page["items"] if i["id"] == inst["id"])["backup_policy"] == policy

    status, reply = await service.call(
        "PATCH", f"/instances/{inst['id']}", token, json={"backup_policy": None}
    )
    assert status == 200, reply
    assert reply["backup_policy"] is None
    assert reply["operation_id"] is None
    assert await _stored(db, inst["id"]) is None
    assert await _ops(db, inst["id"]) == before


async def test_with_settings_both_apply_and_a_refused_change_keeps_the_old_schedule(
    service: Api, db: asyncpg.Pool, running_redis: tuple[str, dict[str, Any]]
) -> None:
    token, inst = running_redis
    old = {"interval_hours": 12, "keep": 3}
    status, _ = await service.call("PATCH", f"/instances/{inst['id']}", token, json={"backup_policy": old})
    assert status == 200
    before = await _ops(db, inst["id"])
    status, reply = await service.call(
        "PATCH",
        f"/instances/{inst['id']}",
        token,
        json={"settings": {"bogus": 1}, "backup_policy": {"interval_hours": 1, "keep": 1}},
    )
    assert status == 422, reply
    assert _fields(reply) == ["settings.bogus"]
    assert await _stored(db, inst["id"]) == old
    assert await _ops(db, inst["id"]) == before

    new = {"interval_hours": 6, "keep": 2}
    status, reply = await service.call(
        "PATCH",
        f"/instances/{inst['id']}?wait=120",
        token,
        json={"settings": {"maxmemory_policy": "allkeys-lru"}, "backup_policy": new},
    )
    assert status == 200, reply
    assert reply["operation_id"] is not None
    assert reply["settings"]["maxmemory_policy"] == "allkeys-lru"
    assert reply["backup_policy"] == new


async def test_another_users_instance_is_404(
    service: Api, make_user: UserFactory, db: asyncpg.Pool, running_redis: tuple[str, dict[str, Any]]
) -> None:
    _, inst = running_redis
    _, other = await make_user("bpolx")
    before = await _stored(db, inst["id"])
    status, reply = await service.call(
        "PATCH", f"/instances/{inst['id']}", other, json={"backup_policy": {"interval_hours": 1, "keep": 1}}
    )
    assert status == 404, reply
    assert await _stored(db, inst["id"]) == before
