"""A MySQL instance through the API, checked with a real MySQL client."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import asyncpg
import docker
import pymysql
import pytest

from service.engines import get_engine
from tests.conftest import UserFactory
from tests.helpers import Api, admin_password_of, dbvend_containers


def connect(conn: dict[str, object], **kw: object) -> pymysql.connections.Connection:
    return pymysql.connect(
        host=str(conn["host"]),
        port=int(conn["port"]),
        user=str(conn["username"]),  # type: ignore[call-overload]
        password=str(conn["password"]),
        database=str(conn["database"]),
        connect_timeout=10,
        **kw,
    )


def variables(cur: pymysql.cursors.Cursor, *names: str) -> dict[str, str]:
    cur.execute("SHOW VARIABLES WHERE Variable_name IN (" + ",".join(["%s"] * len(names)) + ")", names)
    return {k: v for k, v in cur.fetchall()}


async def test_mysql_instance_with_its_settings_privileges_and_lifecycle(
    service: Api,
    make_user: UserFactory,
    db: asyncpg.Pool,
    docker_client: docker.DockerClient,
    session_dir: Path,
) -> None:
    _, token = await make_user("my")
    settings = {
        "charset": "utf8mb4",
        "collation": "utf8mb4_unicode_ci",
        "memory_mb": 320,
        "max_connections": 150,
        "database": "orders",
    }
    status, inst = await service.call(
        "POST", "/instances?wait=180", token, json={"engine": "mysql", "name": "orders", "settings": settings}
    )
    assert status == 201, inst
    assert inst["status"] == "running"
    assert inst["settings"]["collation"] == "utf8mb4_unicode_ci"
    facts = inst["facts"]
    assert facts["container_name"] == f"dbvend-{inst['id']}"
    assert "MariaDB" in facts["server_version"]
    assert facts["port"] == inst["placement"]["port"] == inst["connection"]["port"]
    conn_info = inst["connection"]
    assert conn_info["uri"].startswith(f"mysql://{conn_info['username']}:")
    root_password = await admin_password_of(db, session_dir / "state", inst["id"])
    assert root_password not in json.dumps(inst)

    # The server shows exactly the settings asked for.
    with connect(conn_info) as conn, conn.cursor() as cur:
        got = variables(
            cur, "character_set_server", "collation_server", "max_connections", "innodb_buffer_pool_size"
        )
        assert got["character_set_server"] == "utf8mb4"
        assert got["collation_server"] == "utf8mb4_unicode_ci"
        assert got["max_connections"] == "150"
        assert int(got["innodb_buffer_pool_size"]) == 160 * 1024 * 1024
        cur.execute(
            "SELECT DEFAULT_CHARACTER_SET_NAME, DEFAULT_COLLATION_NAME FROM information_schema.SCHEMATA"
            " WHERE SCHEMA_NAME = 'orders'"
        )
        assert cur.fetchone() == ("utf8mb4", "utf8mb4_unicode_ci")
        # Least privilege: its own database only.
        cur.execute("CREATE TABLE t (id int primary key, note varchar(20))")
        cur.execute("INSERT INTO t VALUES (1, 'kept')")
        conn.commit()
        with pytest.raises(pymysql.err.OperationalError) as denied:
            cur.execute("CREATE DATABASE elsewhere")
        assert denied.value.args[0] == 1044
        with pytest.raises((pymysql.err.OperationalError, pymysql.err.ProgrammingError)) as denied:
            cur.execute("SELECT * FROM mysql.user")
        assert denied.value.args[0] in (1142, 1044)

    # Root is root@localhost only: the published port refuses it. dbvend's own network path
    # is the USAGE-only monitor account, and the monitoring probe works through it.
    with pytest.raises(pymysql.err.OperationalError) as refused:
        pymysql.connect(host="127.0.0.1", port=conn_info["port"], user="root", password=root_password)
    assert refused.value.args[0] == 1045
    probe = await get_engine("mysql").probe("127.0.0.1", conn_info["port"], root_password, 5.0)
    assert probe.up, probe.error
    assert probe.metrics["max_connections"] == 150

    # The container is labelled, limited and restarts by itself; data lives on the host.
    (container,) = dbvend_containers(docker_client, inst["id"])
    host_config = container.attrs["HostConfig"]
    assert host_config["Memory"] == 320 * 1024 * 1024
    # 320 MiB: 0.5 CPU (the engine's derivation), as a CFS quota Docker updates in place.
    assert (host_config["CpuQuota"], host_config["CpuPeriod"]) == (50_000, 100_000)
    assert host_config["PidsLimit"] == 10256  # fixed: docker_container cannot update it in place
    assert host_config["LogConfig"]["Type"] == "json-file"
    assert host_config["LogConfig"]["Config"]["max-size"] == "10m"
    # Published on the inventory's dbvend_bind_address only.
    assert [b["HostIp"] for b in host_config["PortBindings"]["3306/tcp"]] == ["127.0.0.1"]
    inspected = json.dumps(
        [container.attrs["Config"]["Env"], container.attrs["Config"]["Cmd"], container.attrs["Args"]]
    )
    assert conn_info["password"] not in inspected
    assert root_password not in inspected
    assert host_config["RestartPolicy"]["Name"] in ("unless-stopped", "always")
    assert container.labels["dbvend.engine"] == "mysql"
    data_dir = session_dir / "inventory" / "data" / inst["id"]
    assert data_dir.is_dir()

    # Data survives a container restart.
    container.restart(timeout=20)
    for _ in range(120):
        try:
            with connect(conn_info) as conn, conn.cursor() as cur:
                cur.execute("SELECT note FROM t WHERE id = 1")
                assert cur.fetchone() == ("kept",)
                break
        except pymysql.err.OperationalError:
            await asyncio.sleep(0.5)
    else:
        pytest.fail("the instance did not come back after a container restart")

    # Delete: container, data and port go; the instance then 404s.
    status, _ = await service.call("DELETE", f"/instances/{inst['id']}?wait=120", token)
    assert status == 204
    status, body = await service.call("GET", f"/instances/{inst['id']}", token)
    assert status == 404
    assert body["error"]["code"] == "not_found"
    assert dbvend_containers(docker_client, inst["id"]) == []
    assert not data_dir.exists()
    assert await db.fetchval("SELECT count(*) FROM port_claims WHERE instance_id = $1", inst["id"]) == 0
    op = await db.fetchrow("SELECT * FROM operations WHERE instance_id = $1 AND kind = 'delete'", inst["id"])
    assert op["status"] == "succeeded"
