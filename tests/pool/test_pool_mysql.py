"""The warm pool with MariaDB, end to end through the service: the keeper deploys a slot
(no tenant account; the claim account answers), a create of a smaller size claims it and
answers 201 with the database and character set asked for and the buffer pool of its own
size, the tenant sees only its database, and the converge drops the claim account and its
resize procedure and moves the container's memory limit (no restart) while the tenant's
session and data stay; the quota counts the requested size."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import docker
import pymysql
import pytest

from tests.helpers import wait_until
from tests.pool.conftest import PoolRig, call, start_rig

ACCESS_DENIED = 1045
MIB = 1024 * 1024


def connect(conn: dict[str, Any], **kw: Any) -> pymysql.connections.Connection[Any]:
    return pymysql.connect(
        host=conn["host"],
        port=int(conn["port"]),
        user=conn["username"],
        password=conn["password"],
        connect_timeout=5,
        autocommit=True,
        **kw,
    )


@pytest.fixture
async def mysql_rig(pool_database: str, pool_root: Path) -> AsyncIterator[PoolRig]:
    made, db = await start_rig(pool_database, pool_root, {"mysql": 1})
    try:
        yield made
    finally:
        await made.svc.stop()
        await db.close()


async def test_a_mysql_claim_answers_201_with_its_own_database_and_converges(
    mysql_rig: PoolRig, docker_client: docker.DockerClient
) -> None:
    rig = mysql_rig
    (slot,) = await rig.wait_ready(1, seconds=240)
    slot_admin = rig.slot_secrets(slot)["admin_password"]
    token = await rig.user()
    settings = {"database": "shop", "charset": "latin1", "max_connections": 150, "memory_mb": 192}
    body = {"engine": "mysql", "settings": settings}
    status, inst = await call(rig.svc, token, "POST", "/instances", json=body)
    assert status == 201, inst
    assert inst["id"] == slot["id"]
    assert slot["memory_mb"] == 256  # the default class serves a 192 MB instance
    assert inst["memory_mb"] == 192
    assert inst["status"] == "running"
    assert inst["facts"]["server_version"]
    conn = inst["connection"]
    assert conn["database"] == "shop"

    def tenant_view() -> tuple[set[str], str, int, int]:
        with connect(conn, database="shop") as c, c.cursor() as cur:
            cur.execute("CREATE TABLE IF NOT EXISTS orders (id int PRIMARY KEY)")
            cur.execute("INSERT IGNORE INTO orders VALUES (1)")
            cur.execute("SHOW DATABASES")
            databases = {r[0] for r in cur.fetchall()}
            cur.execute(
                "SELECT DEFAULT_CHARACTER_SET_NAME FROM information_schema.SCHEMATA"
                " WHERE SCHEMA_NAME = 'shop'"
            )
            (charset,) = cur.fetchone() or ("",)
            cur.execute("SELECT @@GLOBAL.max_connections")
            (max_connections,) = cur.fetchone() or (0,)
            cur.execute("SHOW VARIABLES LIKE 'innodb_buffer_pool_size'")
            (_, buffer_pool) = cur.fetchone() or ("", 0)
        return databases, str(charset), int(max_connections), int(buffer_pool)

    container = docker_client.containers.get(f"dbvend-{inst['id']}")
    started = container.attrs["State"]["StartedAt"]
    databases, charset, max_connections, buffer_pool = await asyncio.to_thread(tenant_view)
    assert databases == {"information_schema", "shop"}
    assert charset == "latin1"
    assert max_connections == 150
    assert buffer_pool == 96 * MIB  # set at the claim, not the slot's 128 MiB

    async def converged() -> bool:
        row = await rig.db.fetchrow(
            "SELECT status, error FROM operations WHERE instance_id = $1 AND kind = 'converge'", inst["id"]
        )
        assert row is not None
        assert row["status"] != "failed", row["error"]
        return bool(row["status"] == "succeeded")

    assert await wait_until(converged, 180)

    # The claim account is gone; the tenant's data and account stay.
    def claim_account_refused() -> int:
        try:
            connect({**conn, "username": "dbvend_claim", "password": slot_admin}).close()
        except pymysql.err.OperationalError as exc:
            return int(exc.args[0])
        return 0

    assert await asyncio.to_thread(claim_account_refused) == ACCESS_DENIED

    def orders() -> list[int]:
        with connect(conn, database="shop") as c, c.cursor() as cur:
            cur.execute("SELECT id FROM orders")
            return [int(r[0]) for r in cur.fetchall()]

    assert await asyncio.to_thread(orders) == [1]
    # Docker's update moved the limit in place; the server was not restarted.
    container.reload()
    assert container.attrs["State"]["StartedAt"] == started
    assert container.attrs["HostConfig"]["Memory"] == 192 * MIB
    assert container.attrs["HostConfig"]["MemorySwap"] == 192 * MIB
    assert (await asyncio.to_thread(tenant_view))[3] == 96 * MIB
    query = "SELECT COUNT(*) FROM mysql.proc WHERE name = 'dbvend_resize_buffer_pool'"
    procs = container.exec_run(["mariadb", "-uroot", "-NBe", query])
    assert procs.output.decode().strip() == "0"
    status, me = await call(rig.svc, token, "GET", "/me")
    assert status == 200, me
    assert me["quota"]["memory_mb"]["used"] == 192
