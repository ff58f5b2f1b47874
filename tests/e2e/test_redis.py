"""A Redis instance through the API, checked with redis-py."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import asyncpg
import docker
import pytest
import redis

from tests.conftest import UserFactory
from tests.helpers import Api, admin_password_of, dbvend_containers

MIB = 1024 * 1024


def client(conn: dict[str, object], username: str | None = None, password: str | None = None) -> redis.Redis:
    return redis.Redis(
        host=str(conn["host"]),
        port=int(conn["port"]),  # type: ignore[call-overload]
        username=username or str(conn["username"]),
        password=password or str(conn["password"]),
        socket_timeout=10,
        decode_responses=True,
    )


async def test_redis_instance_with_its_settings_acl_and_lifecycle(
    service: Api,
    make_user: UserFactory,
    db: asyncpg.Pool,
    docker_client: docker.DockerClient,
    session_dir: Path,
) -> None:
    _, token = await make_user("rd")
    settings = {"maxmemory": "64mb", "maxmemory_policy": "allkeys-lru", "appendonly": True, "maxclients": 500}
    status, inst = await service.call(
        "POST", "/instances?wait=120", token, json={"engine": "redis", "name": "cache", "settings": settings}
    )
    assert status == 201, inst
    assert inst["status"] == "running"
    assert inst["settings"]["maxmemory"] == 64 * MIB
    assert inst["facts"]["server_version"].startswith("7.0")
    conn = inst["connection"]
    assert conn["uri"] == f"redis://{conn['username']}:{conn['password']}@127.0.0.1:{conn['port']}/0"

    user = client(conn)
    assert user.set("greeting", "hello")
    assert user.get("greeting") == "hello"

    # The server shows exactly these values (read through dbvend's admin account).
    admin_password = await admin_password_of(db, session_dir / "state", inst["id"])
    admin = client(conn, "dbvend-admin", admin_password)
    assert admin.config_get("maxmemory") == {"maxmemory": str(64 * MIB)}
    assert admin.config_get("maxmemory-policy") == {"maxmemory-policy": "allkeys-lru"}
    assert admin.config_get("appendonly") == {"appendonly": "yes"}
    assert admin.config_get("maxclients") == {"maxclients": "500"}

    # The user cannot lift its own limits or stop the server. (DEBUG and MODULE are also
    # switched off server-wide, so Redis may refuse them before the ACL check does.)
    for command in (
        ("CONFIG", "SET", "maxmemory", "0"),
        ("CONFIG", "GET", "maxmemory"),
        ("SHUTDOWN",),
        ("DEBUG", "SLEEP", "0"),
        ("MODULE", "LIST"),
        ("ACL", "LIST"),
        ("ACL", "SETUSER", "x"),
    ):
        with pytest.raises(redis.exceptions.ResponseError) as refused:
            user.execute_command(*command)
        assert isinstance(refused.value, redis.exceptions.NoPermissionError) or "not allowed" in str(
            refused.value
        ), command
    assert admin.config_get("maxmemory") == {"maxmemory": str(64 * MIB)}
    # The default user is off: no anonymous access.
    anonymous = redis.Redis(host="127.0.0.1", port=conn["port"], socket_timeout=5)
    with pytest.raises((redis.exceptions.ResponseError, redis.exceptions.AuthenticationError)):
        anonymous.get("greeting")

    (container,) = dbvend_containers(docker_client, inst["id"])
    host_config = container.attrs["HostConfig"]
    assert host_config["Memory"] > 64 * MIB
    assert container.labels["dbvend.engine"] == "redis"
    # Limits: 128 MiB container -> 0.5 CPU (the engine's derivation), pids, rotated logs.
    assert (host_config["CpuQuota"], host_config["CpuPeriod"]) == (50_000, 100_000)
    assert host_config["PidsLimit"] == 256
    assert host_config["LogConfig"]["Type"] == "json-file"
    # Published on the inventory's dbvend_bind_address only; no secret in env or arguments.
    assert [b["HostIp"] for b in host_config["PortBindings"]["6379/tcp"]] == ["127.0.0.1"]
    inspected = json.dumps(
        [container.attrs["Config"]["Env"], container.attrs["Config"]["Cmd"], container.attrs["Args"]]
    )
    assert conn["password"] not in inspected
    assert admin_password not in inspected

    # Data survives a container restart (appendonly).
    container.restart(timeout=10)
    for _ in range(60):
        try:
            if client(conn).get("greeting") == "hello":
                break
        except (redis.exceptions.ConnectionError, redis.exceptions.BusyLoadingError):
            pass
        await asyncio.sleep(0.5)
    else:
        pytest.fail("the key did not survive a container restart")

    status, _ = await service.call("DELETE", f"/instances/{inst['id']}?wait=60", token)
    assert status == 204
    assert dbvend_containers(docker_client, inst["id"]) == []
    status, _ = await service.call("GET", f"/instances/{inst['id']}", token)
    assert status == 404
