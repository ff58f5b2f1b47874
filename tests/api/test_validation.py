"""Bad input gets a clear 4xx and loses nothing: no row, no operation, no container."""

from __future__ import annotations

from typing import Any

import asyncpg
import docker
import pytest

from tests.conftest import UserFactory
from tests.helpers import TEST_PORTS, Api, dbvend_containers


def _session_containers(client: docker.DockerClient) -> set[str]:
    """Containers on this worker's ports (another pytest worker runs its own service)."""
    return {
        c.id
        for c in dbvend_containers(client)
        if TEST_PORTS[0] <= int(c.labels.get("dbvend.port") or 0) <= TEST_PORTS[1]
    }


async def counts(db: asyncpg.Pool) -> tuple[int, int, int]:
    # Only create operations: the shared service's background jobs (scheduled backups,
    # grace expiries, repairs) may add other operations for earlier tests' instances at any
    # moment, while a half-made create always leaves an instance, a create and a port claim.
    row = await db.fetchrow(
        "SELECT (SELECT count(*) FROM instances) AS i,"
        " (SELECT count(*) FROM operations WHERE kind = 'create') AS o,"
        " (SELECT count(*) FROM port_claims) AS p"
    )
    assert row is not None
    return row["i"], row["o"], row["p"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"engine": "mysql", "settings": {"charset": "klingon"}}, "settings.charset"),
        (
            {"engine": "mysql", "settings": {"charset": "latin1", "collation": "utf8mb4_bin"}},
            "settings.collation",
        ),
        ({"engine": "mysql", "settings": {"memory_mb": 1}}, "settings.memory_mb"),
        ({"engine": "mysql", "settings": {"root_password": "x"}}, "settings.root_password"),
        ({"engine": "redis", "settings": {"maxmemory": "a lot"}}, "settings.maxmemory"),
        ({"engine": "redis", "settings": {"maxmemory_policy": "lru"}}, "settings.maxmemory_policy"),
        ({"engine": "redis", "settings": {"appendonly": "yes"}}, "settings.appendonly"),
        ({"engine": "postgres"}, "engine"),
        ({"settings": {}}, "engine"),
        ({"engine": "redis", "name": "Has Spaces"}, "name"),
        ({"engine": "redis", "settings": ["not", "an", "object"]}, "settings"),
        ({"engine": "redis", "extra": 1}, "extra"),
    ],
)
async def test_bad_create_is_422_and_records_nothing(
    service: Api,
    make_user: UserFactory,
    db: asyncpg.Pool,
    docker_client: docker.DockerClient,
    body: dict[str, Any],
    field: str,
) -> None:
    _, token = await make_user("val")
    before = await counts(db)
    containers_before = _session_containers(docker_client)
    status, reply = await service.call("POST", "/instances", token, json=body)
    assert status == 422, reply
    error = reply["error"]
    assert error["code"] == "validation_error"
    assert field in {d["field"] for d in error["details"]}
    assert all(d["message"] for d in error["details"])
    assert await counts(db) == before
    assert _session_containers(docker_client) == containers_before


async def test_malformed_bodies(service: Api, make_user: UserFactory) -> None:
    _, token = await make_user("val")
    status, reply = await service.call(
        "POST", "/instances", token, data=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert status == 400
    assert reply["error"]["code"] == "invalid_json"
    status, reply = await service.call(
        "POST",
        "/instances",
        token,
        data=b"engine=redis",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert status == 415
    status, reply = await service.call("POST", "/instances", token, json=["redis"])
    assert status == 422
    assert reply["error"]["details"][0]["field"] == "body"


async def test_bad_query_parameters(service: Api, make_user: UserFactory) -> None:
    _, token = await make_user("val")
    for query, field in [
        ("?limit=0", "limit"),
        ("?limit=abc", "limit"),
        ("?engine=oracle", "engine"),
        ("?status=sleeping", "status"),
        ("?cursor=%%%", "cursor"),
    ]:
        status, reply = await service.call("GET", "/instances" + query, token)
        assert status == 422, query
        assert reply["error"]["details"][0]["field"] == field
    status, reply = await service.call("POST", "/instances?wait=-1", token, json={"engine": "redis"})
    assert status == 422
    assert reply["error"]["details"][0]["field"] == "wait"


async def test_unknown_route_and_method_use_the_error_shape(service: Api, admin_token: str) -> None:
    status, reply = await service.call("GET", "/nothing-here", admin_token)
    assert status == 404
    assert reply["error"]["code"] == "not_found"
    status, reply = await service.call("PUT", "/instances", admin_token)
    assert status == 405
    assert reply["error"]["code"] == "method_not_allowed"
