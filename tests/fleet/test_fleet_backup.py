"""Backups across the fleet: an instance on one host is backed up into the store (off its
host), then cloned onto a second host (POST /instances with restore_from, the first host
drained so placement must go elsewhere); the clone's data reads back exactly, with real
clients through the second host's address."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pymysql
import pytest
import redis

from tests.e2e.service_process import ServiceProcess
from tests.fleet.conftest import Fleet
from tests.helpers import create_database, drop_database

ROWS = [(n, f"row {n} é ✓", n * 1.5) for n in range(200)]
KEYS = {f"key:{n}": f"value {n}".encode() for n in range(200)}


@pytest.fixture(scope="module")
async def fleet_service(
    fleet: Fleet, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[ServiceProcess]:
    work = tmp_path_factory.mktemp("fleet-backup")
    inventory_dir = work / "inventory"
    inventory_dir.mkdir()
    shutil.copy(fleet.inventory, inventory_dir / "hosts.yml")
    shutil.copytree(
        Path(__file__).resolve().parents[2] / "inventory" / "group_vars", inventory_dir / "group_vars"
    )
    url = await create_database()
    svc = ServiceProcess(url, work / "state", inventory_dir / "hosts.yml", work / "service.log")
    await svc.start()
    try:
        yield svc
    finally:
        await svc.stop()
        await drop_database(url)


async def _only(svc: ServiceProcess, host: str) -> None:
    """Drain every host but `host`, so the next create lands there."""
    for other in ("h1", "h2", "h3"):
        status, body = await svc.call("POST", f"/hosts/{other}/{'undrain' if other == host else 'drain'}")
        assert status == 200, body


def _write(engine: str, c: dict[str, Any]) -> None:
    if engine == "redis":
        client = redis.Redis(host=c["host"], port=c["port"], username=c["username"], password=c["password"])
        try:
            client.mset(KEYS)
        finally:
            client.close()
        return
    conn = pymysql.connect(
        host=c["host"], port=c["port"], user=c["username"], password=c["password"], database=c["database"]
    )
    try:
        with conn.cursor() as cur:
            cur.execute("CREATE TABLE t (id INT PRIMARY KEY, s VARCHAR(64), x DOUBLE) CHARACTER SET utf8mb4")
            cur.executemany("INSERT INTO t VALUES (%s, %s, %s)", ROWS)
        conn.commit()
    finally:
        conn.close()


def _read(engine: str, c: dict[str, Any]) -> Any:
    if engine == "redis":
        client = redis.Redis(host=c["host"], port=c["port"], username=c["username"], password=c["password"])
        try:
            return dict(zip(KEYS, client.mget(list(KEYS)), strict=True)), client.dbsize()
        finally:
            client.close()
    conn = pymysql.connect(
        host=c["host"], port=c["port"], user=c["username"], password=c["password"], database=c["database"]
    )
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT id, s, x FROM t ORDER BY id")
            return [tuple(r) for r in cur.fetchall()]
    finally:
        conn.close()


@pytest.mark.parametrize("engine", ["mysql", "redis"])
async def test_backup_on_one_host_clones_onto_another(
    fleet_service: ServiceProcess, fleet: Fleet, engine: str
) -> None:
    svc = fleet_service
    try:
        await _only(svc, "h1")
        status, inst = await svc.call("POST", "/instances?wait=300", json={"engine": engine})
        assert status == 201, inst
        assert inst["placement"]["host"] == "h1"
        await asyncio.to_thread(_write, engine, inst["connection"])

        status, backup = await svc.call("POST", f"/instances/{inst['id']}/backups?wait=300")
        assert status in (200, 201), backup
        assert backup["status"] == "completed", backup

        await _only(svc, "h2")
        status, clone = await svc.call(
            "POST", "/instances?wait=300", json={"engine": engine, "restore_from": backup["id"]}
        )
        assert status == 201, clone
        assert clone["placement"]["host"] == "h2"
        assert clone["connection"]["host"] == fleet.host("h2").address
        assert clone["connection"]["password"] != inst["connection"]["password"]
        expected = (KEYS, len(KEYS)) if engine == "redis" else ROWS
        assert await asyncio.to_thread(_read, engine, clone["connection"]) == expected
    finally:
        for host in ("h1", "h2", "h3"):
            await svc.call("POST", f"/hosts/{host}/undrain")
