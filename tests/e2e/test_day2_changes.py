"""PATCH and rotate-password end to end, with real clients. They run the roles'
reconfigure.yml / rotate.yml: a role without them fails these tests (a renamed task file
must not turn them into silent skips).

- a live Redis change keeps an open client connection working, CONFIG GET shows it, and it
  survives a `docker restart`; MariaDB's SHOW VARIABLES shows its change; data is kept;
- after a rotation the old password is refused and the new one (in the answer, and in GET
  once it succeeded, never in the operation) works; with a Redis grace period both work
  until the worker removes the old one."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import asyncpg
import docker
import pymysql
import pytest
import redis

from tests.conftest import UserFactory
from tests.helpers import ROOT, Api, admin_password_of, dbvend_containers, wait_until


def _needs(engine: str, task: str) -> None:
    if not (ROOT / "roles" / engine / "tasks" / f"{task}.yml").exists():
        pytest.fail(
            f"roles/{engine}/tasks/{task}.yml is missing: the role lost (or renamed) its {task} tasks"
        )


def _redis(c: dict[str, Any], password: str | None = None, username: str | None = None) -> redis.Redis:
    return redis.Redis(
        host=c["host"],
        port=c["port"],
        username=username or c["username"],
        password=password or c["password"],
        socket_timeout=5,
    )


def _mysql(c: dict[str, Any], password: str | None = None) -> pymysql.Connection[Any]:
    return pymysql.connect(
        host=c["host"],
        port=c["port"],
        user=c["username"],
        password=password or c["password"],
        database=c["database"],
        connect_timeout=5,
        autocommit=True,
    )


async def _create(
    service: Api, token: str, engine: str, settings: dict[str, Any] | None = None
) -> dict[str, Any]:
    status, inst = await service.call(
        "POST", "/instances?wait=240", token, json={"engine": engine, "settings": settings or {}}
    )
    assert status == 201, inst
    return inst


async def test_redis_live_change_keeps_the_connection_and_survives_a_restart(
    service: Api,
    make_user: UserFactory,
    db: asyncpg.Pool,
    session_dir: Path,
    docker_client: docker.DockerClient,
) -> None:
    _needs("redis", "reconfigure")
    _, token = await make_user("day2c")
    inst = await _create(service, token, "redis", {"maxmemory": "32mb"})
    c = inst["connection"]
    client = _redis(c)
    client.set("k", "v")
    status, reply = await service.call(
        "PATCH", f"/instances/{inst['id']}?wait=120", token, json={"settings": {"maxclients": 77}}
    )
    assert status == 200, reply
    assert reply["changes"]["live"] == ["maxclients"]
    assert reply["settings"]["maxclients"] == 77
    assert client.get("k") == b"v"  # the same connection, still working
    admin = _redis(c, await admin_password_of(db, session_dir / "state", inst["id"]), "dbvend-admin")
    assert admin.config_get("maxclients") == {"maxclients": "77"}
    [container] = dbvend_containers(docker_client, inst["id"])
    container.restart()
    assert await wait_until(lambda: _ping(admin), 60)
    assert admin.config_get("maxclients") == {"maxclients": "77"}
    assert _redis(c).get("k") == b"v"
    assert (await service.call("DELETE", f"/instances/{inst['id']}?wait=120", token))[0] == 204


async def _ping(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.exceptions.RedisError:
        return False


async def test_mysql_change_shows_in_show_variables_and_keeps_data(
    service: Api, make_user: UserFactory
) -> None:
    _needs("mysql", "reconfigure")
    _, token = await make_user("day2c")
    inst = await _create(service, token, "mysql")
    c = inst["connection"]
    with _mysql(c) as conn, conn.cursor() as cur:
        cur.execute("CREATE TABLE t (v varchar(10))")
        cur.execute("INSERT INTO t VALUES ('row')")
    status, reply = await service.call(
        "PATCH", f"/instances/{inst['id']}?wait=240", token, json={"settings": {"max_connections": 42}}
    )
    assert status == 200, reply
    assert "max_connections" in reply["changes"]["live"] + reply["changes"]["restart"]
    with _mysql(c) as conn, conn.cursor() as cur:
        cur.execute("SHOW VARIABLES LIKE 'max_connections'")
        assert cur.fetchall() == (("max_connections", "42"),)
        cur.execute("SELECT v FROM t")
        assert cur.fetchall() == (("row",),)
    assert (await service.call("DELETE", f"/instances/{inst['id']}?wait=120", token))[0] == 204


def _refused(engine: str, c: dict[str, Any], password: str) -> bool:
    try:
        if engine == "redis":
            _redis(c, password).ping()
        else:
            _mysql(c, password).close()
    except (
        redis.exceptions.AuthenticationError,
        redis.exceptions.ResponseError,
        pymysql.err.OperationalError,
    ):
        return True
    return False


@pytest.mark.parametrize("engine", ["redis", "mysql"])
async def test_rotation_refuses_the_old_password_and_shows_the_new_one_once(
    service: Api, make_user: UserFactory, db: asyncpg.Pool, engine: str
) -> None:
    _needs(engine, "rotate")
    _, token = await make_user("day2r")
    inst = await _create(service, token, engine)
    c, old = inst["connection"], inst["connection"]["password"]
    status, reply = await service.call("POST", f"/instances/{inst['id']}/rotate-password?wait=240", token)
    assert status == 200, reply
    new = reply["password"]
    assert new != old
    assert reply["connection"]["password"] == new
    assert _refused(engine, c, old)
    assert not _refused(engine, c, new)
    status, op = await service.call("GET", f"/operations/{reply['operation_id']}", token)
    assert new not in json.dumps(op)
    row = await db.fetchrow(
        "SELECT params::text, sealed FROM operations WHERE id = $1", reply["operation_id"]
    )
    assert new not in row["params"]
    assert row["sealed"] is None  # cleared once the rotation ended
    status, again = await service.call("GET", f"/instances/{inst['id']}", token)
    assert again["connection"]["password"] == new
    assert (await service.call("DELETE", f"/instances/{inst['id']}?wait=120", token))[0] == 204


async def test_redis_grace_keeps_both_passwords_until_the_worker_removes_the_old(
    service: Api, make_user: UserFactory, db: asyncpg.Pool
) -> None:
    _needs("redis", "rotate")
    _, token = await make_user("day2g")
    inst = await _create(service, token, "redis")
    c, old = inst["connection"], inst["connection"]["password"]
    status, reply = await service.call(
        "POST", f"/instances/{inst['id']}/rotate-password?wait=240", token, json={"grace_seconds": 8}
    )
    assert status == 200, reply
    new = reply["password"]
    assert not _refused("redis", c, new)
    assert not _refused("redis", c, old)  # within the grace period
    follow_up = await db.fetchrow(
        "SELECT id, params->>'phase' AS phase, not_before > now() AS later FROM operations"
        " WHERE instance_id = $1 AND kind = 'rotate' AND status = 'pending'",
        inst["id"],
    )
    assert follow_up is not None
    assert follow_up["phase"] == "expire"

    async def old_gone() -> bool:
        return _refused("redis", c, old)

    assert await wait_until(old_gone, 120, interval=1)
    assert not _refused("redis", c, new)
    assert (await service.call("DELETE", f"/instances/{inst['id']}?wait=120", token))[0] == 204
