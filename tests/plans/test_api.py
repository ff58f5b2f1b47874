"""Plans through /api/v1 against the real service: the catalog, creates on a plan (settings from
it, only settable keys within bounds), an admin closing a plan, quotas counting the plan's
memory, and a move to another plan that the running Redis really takes."""

from __future__ import annotations

import secrets
from pathlib import Path

import asyncpg
import redis

from service.plans.catalog import load_catalog
from tests.conftest import UserFactory
from tests.helpers import Api, admin_password_of

MIB = 1024 * 1024
CATALOG = load_catalog()


async def counts(db: asyncpg.Pool) -> tuple[int, int]:
    row = await db.fetchrow(
        "SELECT (SELECT count(*) FROM instances) AS i, (SELECT count(*) FROM operations) AS o"
    )
    assert row is not None
    return row["i"], row["o"]


def admin_client(conn: dict[str, object], password: str) -> redis.Redis:
    return redis.Redis(
        host=str(conn["host"]),
        port=int(conn["port"]),  # type: ignore[call-overload]
        username="dbvend-admin",
        password=password,
        socket_timeout=10,
        decode_responses=True,
    )


async def test_the_plan_catalog_is_listed_with_ids_sizes_and_schemas(
    service: Api, make_user: UserFactory
) -> None:
    _, token = await make_user("pl-ls")
    status, body = await service.call("GET", "/plans", token)
    assert status == 200, body
    listed = {(p["engine"], p["name"]): p for p in body["items"]}
    assert set(listed) == {(p.engine, p.name) for p in CATALOG.plans}
    small = listed[("redis", "small")]
    assert small["id"] == CATALOG.get("redis", "small").id  # type: ignore[union-attr]
    assert small["available"] is True
    assert small["settings"]["maxmemory"] == 128 * MIB
    assert small["settable"]["maxclients"] == {"minimum": 1, "maximum": 1000}
    schema = small["parameters_schema"]
    assert schema["additionalProperties"] is False
    assert "maxmemory" not in schema["properties"]
    assert schema["properties"]["maxclients"]["maximum"] == 1000
    mysql_medium = listed[("mysql", "medium")]
    assert mysql_medium["memory_mb"] == 1024
    assert mysql_medium["settings"]["database"] is None  # derived from the instance's name


async def test_a_create_on_a_plan_takes_its_settings_and_refuses_what_the_plan_fixes(
    service: Api, make_user: UserFactory, db: asyncpg.Pool
) -> None:
    _, token = await make_user("pl-cr")
    before = await counts(db)
    refused = [
        ({"plan": "huge"}, "plan", "unknown redis plan"),
        ({"plan": "small", "settings": {"maxmemory": "1gb"}}, "settings.maxmemory", "cannot be set"),
        ({"plan": "small", "settings": {"maxclients": 5000}}, "settings.maxclients", "at most 1000"),
        ({"plan": "small", "settings": {"maxclients": 0}}, "settings.maxclients", ""),
        ({"plan": "Small"}, "plan", ""),
        ({"plan": "small\n"}, "plan", ""),
        ({"plan": "s" * 33}, "plan", ""),
        ({"plan": 7}, "plan", ""),
    ]
    for extra, field, words in refused:
        status, body = await service.call("POST", "/instances", token, json={"engine": "redis", **extra})
        assert status == 422, (extra, body)
        fields = {d["field"]: d["message"] for d in body["error"]["details"]}
        assert field in fields, (extra, body)
        assert words in fields[field], (extra, body)
    assert await counts(db) == before  # nothing recorded, nothing half-made

    status, inst = await service.call(
        "POST",
        "/instances?wait=120",
        token,
        json={"engine": "redis", "plan": "small", "settings": {"maxclients": 200}},
    )
    assert status == 201, inst
    assert inst["plan"] == "small"
    assert inst["settings"]["maxmemory"] == 128 * MIB
    assert inst["settings"]["maxclients"] == 200
    assert inst["memory_mb"] == CATALOG.get("redis", "small").memory_mb  # type: ignore[union-attr]
    client = redis.Redis(
        host=inst["connection"]["host"],
        port=inst["connection"]["port"],
        username=inst["connection"]["username"],
        password=inst["connection"]["password"],
        socket_timeout=10,
    )
    assert client.ping()
    # On a plan, a day-2 change keeps to the plan's settable keys and bounds.
    status, body = await service.call(
        "PATCH", f"/instances/{inst['id']}", token, json={"settings": {"maxmemory": "64mb"}}
    )
    assert status == 422, body
    assert body["error"]["details"][0]["field"] == "settings.maxmemory"
    status, body = await service.call(
        "PATCH", f"/instances/{inst['id']}", token, json={"settings": {"maxclients": 1001}}
    )
    assert status == 422, body
    assert "at most 1000" in body["error"]["details"][0]["message"]
    status, _ = await service.call("DELETE", f"/instances/{inst['id']}?wait=60", token)
    assert status == 204


async def test_an_admin_closes_a_plan_to_new_instances(
    service: Api, make_user: UserFactory, admin_token: str
) -> None:
    _, token = await make_user("pl-av")
    status, body = await service.call("PATCH", "/plans/redis/large", token, json={"available": False})
    assert status == 403, body
    for path in ("/plans/redis/giant", "/plans/postgres/small"):
        status, body = await service.call("PATCH", path, admin_token, json={"available": False})
        assert status == 404, body
    status, body = await service.call("PATCH", "/plans/redis/large", admin_token, json={"available": "no"})
    assert status == 422, body
    status, body = await service.call("PATCH", "/plans/redis/large", admin_token, json={"available": False})
    assert status == 200, body
    assert body["available"] is False
    try:
        status, body = await service.call("GET", "/plans", token)
        assert {(p["engine"], p["name"]): p["available"] for p in body["items"]}[("redis", "large")] is False
        status, body = await service.call(
            "POST", "/instances", token, json={"engine": "redis", "plan": "large"}
        )
        assert status == 422, body
        assert body["error"]["details"][0] == {
            "field": "plan",
            "message": "redis plan 'large' is not available for new instances",
        }
    finally:
        status, body = await service.call(
            "PATCH", "/plans/redis/large", admin_token, json={"available": True}
        )
        assert status == 200, body


async def test_quotas_count_the_plans_memory(service: Api, admin_token: str, db: asyncpg.Pool) -> None:
    username = f"pl-q-{secrets.token_hex(3)}"
    password = secrets.token_urlsafe(16)
    status, body = await service.call(
        "POST", "/users", admin_token, json={"username": username, "password": password}
    )
    assert status == 201, body
    status, body = await service.call(
        "PATCH", f"/users/{username}", admin_token, json={"quota": {"memory_mb": 400}}
    )
    assert status == 200, body
    token = await service.login(username, password)
    before = await counts(db)
    status, body = await service.call("POST", "/instances", token, json={"engine": "redis", "plan": "medium"})
    assert status == 403, body
    assert body["error"]["code"] == "quota_exceeded"
    assert body["error"]["details"][0]["field"] == "quota.memory_mb"
    assert await counts(db) == before


async def test_a_move_to_another_plan_is_a_settings_change_the_server_takes(
    service: Api, make_user: UserFactory, db: asyncpg.Pool, session_dir: Path
) -> None:
    _, token = await make_user("pl-mv")
    status, inst = await service.call(
        "POST",
        "/instances?wait=120",
        token,
        json={"engine": "redis", "plan": "small", "settings": {"maxmemory_policy": "allkeys-lru"}},
    )
    assert status == 201, inst
    iid = inst["id"]
    for bad, field in [
        ({"plan": "giant"}, "plan"),
        ({"plan": "medium", "settings": {"maxmemory": "1gb"}}, "settings.maxmemory"),
    ]:
        status, body = await service.call("PATCH", f"/instances/{iid}", token, json=bad)
        assert status == 422, (bad, body)
        assert body["error"]["details"][0]["field"] == field

    status, body = await service.call("PATCH", f"/instances/{iid}?wait=120", token, json={"plan": "medium"})
    assert status == 200, body
    assert body["plan"] == "medium"
    assert body["settings"]["maxmemory"] == 512 * MIB
    assert body["settings"]["maxclients"] == 5000
    assert body["settings"]["maxmemory_policy"] == "allkeys-lru"  # settable: kept
    assert body["memory_mb"] == CATALOG.get("redis", "medium").memory_mb  # type: ignore[union-attr]
    admin = admin_client(inst["connection"], await admin_password_of(db, session_dir / "state", iid))
    assert admin.config_get("maxmemory") == {"maxmemory": str(512 * MIB)}
    assert admin.config_get("maxclients") == {"maxclients": "5000"}
    # Back down: the small plan's own values return, the settable one stays.
    status, body = await service.call("PATCH", f"/instances/{iid}?wait=120", token, json={"plan": "small"})
    assert status == 200, body
    assert (body["plan"], body["settings"]["maxclients"]) == ("small", 1000)
    assert admin.config_get("maxmemory") == {"maxmemory": str(128 * MIB)}
    # Leaving plans: custom settings from then on, with no plan bounds.
    status, body = await service.call(
        "PATCH", f"/instances/{iid}?wait=120", token, json={"plan": None, "settings": {"maxclients": 1500}}
    )
    assert status == 200, body
    assert (body["plan"], body["settings"]["maxclients"]) == (None, 1500)
    status, _ = await service.call("DELETE", f"/instances/{iid}?wait=60", token)
    assert status == 204
