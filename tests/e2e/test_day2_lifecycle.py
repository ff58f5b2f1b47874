"""Stop, start and restart through the API, on real containers with real clients: data,
port and credentials survive a stop and a start; the answers say what was done; the
conflicts (wrong status, an operation open, concurrent requests) and another user's
instance are refused without recording anything."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import docker
import pymysql
import pytest
import redis

from tests.conftest import UserFactory
from tests.helpers import Api, dbvend_containers


def _write(inst: dict[str, Any]) -> None:
    c = inst["connection"]
    if inst["engine"] == "redis":
        redis.Redis(host=c["host"], port=c["port"], username=c["username"], password=c["password"]).set(
            "k", "v"
        )
        return
    with (
        pymysql.connect(
            host=c["host"],
            port=c["port"],
            user=c["username"],
            password=c["password"],
            database=c["database"],
            autocommit=True,
        ) as conn,
        conn.cursor() as cur,
    ):
        cur.execute("CREATE TABLE t (v varchar(10))")
        cur.execute("INSERT INTO t VALUES ('row')")


def _read(inst: dict[str, Any]) -> Any:
    c = inst["connection"]
    if inst["engine"] == "redis":
        return redis.Redis(
            host=c["host"], port=c["port"], username=c["username"], password=c["password"], socket_timeout=5
        ).get("k")
    with (
        pymysql.connect(
            host=c["host"],
            port=c["port"],
            user=c["username"],
            password=c["password"],
            database=c["database"],
            connect_timeout=5,
        ) as conn,
        conn.cursor() as cur,
    ):
        cur.execute("SELECT v FROM t")
        return cur.fetchall()


_DATA = {"redis": b"v", "mysql": (("row",),)}


@pytest.mark.parametrize("engine", ["redis", "mysql"])
async def test_stop_then_start_keeps_data_port_and_credentials(
    service: Api, make_user: UserFactory, docker_client: docker.DockerClient, db: asyncpg.Pool, engine: str
) -> None:
    _, token = await make_user("day2")
    status, inst = await service.call("POST", "/instances?wait=240", token, json={"engine": engine})
    assert status == 201, inst
    iid = inst["id"]
    _write(inst)
    [container] = dbvend_containers(docker_client, iid)

    status, stopped = await service.call("POST", f"/instances/{iid}/stop?wait=120", token)
    assert status == 200, stopped
    assert stopped["status"] == "stopped"
    assert stopped["operation_id"]
    container.reload()
    assert container.status == "exited"
    with pytest.raises((redis.exceptions.ConnectionError, pymysql.err.OperationalError)):
        _read(inst)
    # The port stays claimed by the instance; its memory is no longer committed.
    assert (
        await db.fetchval("SELECT port FROM port_claims WHERE instance_id = $1", iid)
        == inst["placement"]["port"]
    )
    op = await db.fetchrow("SELECT kind, status FROM operations WHERE id = $1", stopped["operation_id"])
    assert dict(op) == {"kind": "stop", "status": "succeeded"}

    # Stopping a stopped instance: 200, nothing recorded.
    count = await db.fetchval("SELECT count(*) FROM operations WHERE instance_id = $1", iid)
    status, again = await service.call("POST", f"/instances/{iid}/stop", token)
    assert status == 200
    assert again["operation_id"] is None
    assert again["status"] == "stopped"
    assert await db.fetchval("SELECT count(*) FROM operations WHERE instance_id = $1", iid) == count

    status, started = await service.call("POST", f"/instances/{iid}/start?wait=240", token)
    assert status == 200, started
    assert started["status"] == "running"
    assert started["placement"]["port"] == inst["placement"]["port"]
    assert started["connection"] == inst["connection"]
    [after] = dbvend_containers(docker_client, iid)
    assert after.id == container.id  # the same container, started again
    assert _read(inst) == _DATA[engine]

    status, again = await service.call("POST", f"/instances/{iid}/start", token)
    assert status == 200
    assert again["operation_id"] is None
    assert (await service.call("DELETE", f"/instances/{iid}?wait=120", token))[0] == 204


async def test_restart_conflicts_and_tenancy(
    service: Api, make_user: UserFactory, docker_client: docker.DockerClient, db: asyncpg.Pool
) -> None:
    _, token = await make_user("day2")
    _, stranger = await make_user("other")
    status, inst = await service.call("POST", "/instances", token, json={"engine": "redis"})
    assert status == 202
    iid = inst["id"]
    # Still provisioning: every action is a 409 naming the status; nothing is recorded.
    for action in ("stop", "start", "restart", "rotate-password"):
        status, body = await service.call("POST", f"/instances/{iid}/{action}", token)
        assert status == 409, (action, body)
        assert body["error"]["code"] == "conflict"
        assert "provisioning" in body["error"]["message"]
    status, body = await service.call(
        "PATCH", f"/instances/{iid}", token, json={"settings": {"maxclients": 50}}
    )
    assert status == 409
    assert "provisioning" in body["error"]["message"]
    assert await db.fetchval("SELECT count(*) FROM operations WHERE instance_id = $1", iid) == 1

    status, inst = await service.call("GET", f"/instances/{iid}", token)
    for _ in range(240):
        status, inst = await service.call("GET", f"/instances/{iid}", token)
        if inst["status"] != "provisioning":
            break
        await asyncio.sleep(0.5)
    assert inst["status"] == "running", inst
    _write(inst)

    # Another user's instance does not exist for them.
    for method, path in (
        ("POST", "stop"),
        ("POST", "start"),
        ("POST", "restart"),
        ("POST", "rotate-password"),
    ):
        status, body = await service.call(method, f"/instances/{iid}/{path}", stranger)
        assert status == 404, (path, body)
    status, _ = await service.call(
        "PATCH", f"/instances/{iid}", stranger, json={"settings": {"maxclients": 50}}
    )
    assert status == 404

    # Concurrent actions on one instance: exactly one is accepted, the others are 409.
    before = await db.fetchval("SELECT count(*) FROM operations WHERE instance_id = $1", iid)
    replies = await asyncio.gather(
        *(
            service.call("POST", f"/instances/{iid}/{a}", token)
            for a in ("restart", "stop", "restart", "restart")
        )
    )
    statuses = sorted(s for s, _ in replies)
    assert statuses == [202, 409, 409, 409], replies
    assert await db.fetchval("SELECT count(*) FROM operations WHERE instance_id = $1", iid) == before + 1
    [accepted] = [b for s, b in replies if s == 202]
    assert accepted["kind"] in ("restart", "stop")
    assert accepted["status"] in ("pending", "running")
    # While it is open, another action is a 409 naming the operation.
    status, body = await service.call("POST", f"/instances/{iid}/restart", token)
    assert status == 409
    assert accepted["id"] in body["error"]["message"]
    for _ in range(240):
        status, op = await service.call("GET", f"/operations/{accepted['id']}", token)
        if op["status"] in ("succeeded", "failed"):
            break
        await asyncio.sleep(0.5)
    assert op["status"] == "succeeded", op
    if accepted["kind"] == "stop":
        assert (await service.call("POST", f"/instances/{iid}/start?wait=120", token))[0] == 200

    [container] = dbvend_containers(docker_client, iid)
    started_at = container.attrs["State"]["StartedAt"]
    status, restarted = await service.call("POST", f"/instances/{iid}/restart?wait=120", token)
    assert status == 200, restarted
    assert restarted["status"] == "running"
    container.reload()
    assert container.attrs["State"]["StartedAt"] != started_at
    assert _read(inst) == b"v"  # saved at the graceful shutdown, loaded at the start
    assert (await service.call("DELETE", f"/instances/{iid}?wait=120", token))[0] == 204
