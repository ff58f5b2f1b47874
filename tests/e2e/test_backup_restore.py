"""Backups through the API with real plays and real clients: data written, backed up,
changed, restored in place and cloned into a new instance reads back exactly; the
download is the file a user can load (a gzip'd dump that the mariadb client loads into a
fresh server, an RDB); kill -9 during a backup ends it completed or failed, never listed
as completed with a half file."""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import docker
import pymysql
import pytest
import redis

from tests.e2e.service_process import ServiceProcess, free_port
from tests.e2e.test_crash_recovery import containers_under, wait_for_operations
from tests.helpers import create_database, drop_database, write_inventory
from tests.ports import port_range


@pytest.fixture
async def service(tmp_path: Path, docker_client: docker.DockerClient) -> AsyncIterator[ServiceProcess]:
    url = await create_database()
    inventory = write_inventory(tmp_path / "inventory", ports=port_range("e2e.backup_restore"))
    svc = ServiceProcess(url, tmp_path / "state", inventory, tmp_path / "service.log")
    await svc.start()
    try:
        yield svc
    finally:
        await svc.stop()
        for container in containers_under(docker_client, tmp_path).values():
            container.remove(force=True, v=True)  # type: ignore[attr-defined]
        await drop_database(url)


def _redis(inst: dict[str, Any]) -> redis.Redis:
    c = inst["connection"]
    return redis.Redis(host=c["host"], port=c["port"], username=c["username"], password=c["password"])


def _mysql(inst: dict[str, Any]) -> Any:
    c = inst["connection"]
    return pymysql.connect(
        host=c["host"], port=c["port"], user=c["username"], password=c["password"], database=c["database"]
    )


def _rows(inst: dict[str, Any], sql: str) -> list[tuple[Any, ...]]:
    conn = _mysql(inst)
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
            return list(cur.fetchall())
    finally:
        conn.close()


def _exec(inst: dict[str, Any], *statements: str) -> None:
    conn = _mysql(inst)
    try:
        with conn.cursor() as cur:
            for sql in statements:
                cur.execute(sql)
        conn.commit()
    finally:
        conn.close()


async def _backup(svc: ServiceProcess, iid: str) -> dict[str, Any]:
    status, backup = await svc.call("POST", f"/instances/{iid}/backups?wait=240")
    assert status == 201, backup
    assert backup["status"] == "completed", backup
    return backup


async def _download(svc: ServiceProcess, backup_id: str) -> bytes:
    async with (
        aiohttp.ClientSession() as s,
        s.get(
            f"{svc.base}/backups/{backup_id}/download", headers={"Authorization": f"Bearer {svc.token}"}
        ) as r,
    ):
        assert r.status == 200, await r.text()
        return await r.read()


async def test_redis_backup_restore_in_place_clone_and_download(service: ServiceProcess) -> None:
    status, inst = await service.call(
        "POST",
        "/instances?wait=240",
        json={"engine": "redis", "settings": {"maxmemory": "32mb", "appendonly": True}},
    )
    assert status == 201, inst
    client = _redis(inst)
    client.mset({"a": "1", "b": "2"})
    client.hset("h", mapping={"x": "y"})
    client.rpush("l", "1", "2", "3")
    backup = await _backup(service, inst["id"])

    client.set("a", "changed")
    client.delete("h")
    client.set("new", "after-backup")
    status, done = await service.call(
        "POST", f"/instances/{inst['id']}/restore?wait=240", json={"backup_id": backup["id"]}
    )
    assert status == 200, done
    client = _redis(inst)  # the restart ended the old connection; the password is the same
    assert client.get("a") == b"1"
    assert client.hgetall("h") == {b"x": b"y"}
    assert client.lrange("l", 0, -1) == [b"1", b"2", b"3"]
    assert client.get("new") is None

    status, clone = await service.call(
        "POST", "/instances?wait=240", json={"engine": "redis", "restore_from": backup["id"]}
    )
    assert status == 201, clone
    assert clone["connection"]["password"] != inst["connection"]["password"]
    assert _redis(clone).get("b") == b"2"
    assert _redis(clone).hgetall("h") == {b"x": b"y"}

    body = await _download(service, backup["id"])
    assert body.startswith(b"REDIS")
    assert hashlib.sha256(body).hexdigest() == backup["sha256"]
    assert len(body) == backup["size_bytes"]


async def test_mysql_backup_restore_in_place_clone_and_a_download_the_mysql_client_loads(
    service: ServiceProcess, docker_client: docker.DockerClient, tmp_path: Path
) -> None:
    status, inst = await service.call("POST", "/instances?wait=240", json={"engine": "mysql", "name": "shop"})
    assert status == 201, inst
    _exec(
        inst,
        "CREATE TABLE t (id INT PRIMARY KEY, name VARCHAR(20) CHARACTER SET utf8mb4)",
        "INSERT INTO t VALUES (1, 'one'), (2, 'zwei ü'), (3, '🙂')",
    )
    backup = await _backup(service, inst["id"])
    _exec(inst, "UPDATE t SET name = 'changed' WHERE id = 1", "DELETE FROM t WHERE id = 3")
    status, done = await service.call(
        "POST", f"/instances/{inst['id']}/restore?wait=240", json={"backup_id": backup["id"]}
    )
    assert status == 200, done
    expected = [(1, "one"), (2, "zwei ü"), (3, "🙂")]
    assert _rows(inst, "SELECT id, name FROM t ORDER BY id") == expected

    status, clone = await service.call(
        "POST",
        "/instances?wait=300",
        json={"engine": "mysql", "name": "shop-copy", "restore_from": backup["id"]},
    )
    assert status == 201, clone
    assert clone["connection"]["username"] != inst["connection"]["username"]
    assert _rows(clone, "SELECT id, name FROM t ORDER BY id") == expected

    # The download is a gzip'd dump that the mariadb client loads into a fresh server.
    body = await _download(service, backup["id"])
    assert hashlib.sha256(body).hexdigest() == backup["sha256"]
    dump = gzip.decompress(body)
    port = free_port()
    server = docker_client.containers.run(
        "dbvend/mariadb:10.11",
        detach=True,
        environment={"MARIADB_ROOT_PASSWORD": "fresh-root-pw", "MARIADB_DATABASE": "loaded"},
        ports={"3306/tcp": ("127.0.0.1", port)},
        labels={"dbvend.test": "backup-load"},
    )
    try:
        for _ in range(120):
            probe = server.exec_run(["mariadb", "-uroot", "-pfresh-root-pw", "-e", "SELECT 1", "loaded"])
            if probe.exit_code == 0:
                break
            await asyncio.sleep(0.5)
        loaded = await asyncio.to_thread(
            subprocess.run,
            ["docker", "exec", "-i", server.id, "mariadb", "-uroot", "-pfresh-root-pw", "loaded"],
            input=dump,
            capture_output=True,
        )
        assert loaded.returncode == 0, loaded.stderr[-2000:]
        out = server.exec_run(
            [
                "mariadb",
                "-uroot",
                "-pfresh-root-pw",
                "--default-character-set=utf8mb4",
                "-N",
                "-e",
                "SELECT id, name FROM t ORDER BY id",
                "loaded",
            ]
        )
        assert out.output.decode().splitlines() == ["1\tone", "2\tzwei ü", "3\t🙂"]
    finally:
        server.remove(force=True, v=True)


async def test_kill_9_during_a_backup_never_lists_a_half_file(
    service: ServiceProcess, tmp_path: Path
) -> None:
    status, inst = await service.call(
        "POST", "/instances?wait=240", json={"engine": "redis", "settings": {"maxmemory": "64mb"}}
    )
    assert status == 201, inst
    client = _redis(inst)
    client.mset({f"k{i}": "v" * 512 for i in range(20000)})
    status, backup = await service.call("POST", f"/instances/{inst['id']}/backups")
    assert status == 202, backup
    db = await asyncpg.create_pool(service.env["DATABASE_URL"], min_size=1, max_size=2)
    try:
        for _ in range(200):
            if await db.fetchval("SELECT status FROM backups WHERE id = $1", backup["id"]) == "running":
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.5)
        service.kill9()
        await service.start()
        await wait_for_operations(db, 300)
    finally:
        await db.close()
    status, after = await service.call("GET", f"/backups/{backup['id']}")
    assert status == 200, after
    assert after["status"] in ("completed", "failed"), after
    if after["status"] == "completed":
        body = await _download(service, backup["id"])
        assert hashlib.sha256(body).hexdigest() == after["sha256"]
    store = tmp_path / "state" / "backups"
    assert not [p for p in store.rglob("*.partial")], list(store.rglob("*"))
