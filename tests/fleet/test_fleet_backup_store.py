"""The backup store on another fleet host (DBVEND_BACKUP_HOST=h2, over SSH): an instance on
h1 is backed up, its encrypted file lands on h2 (and nowhere under the service's state dir),
a clone placed on h3 gets the data from there, the download is the backup, and DELETE
removes the file on h2. The fleet hosts share this machine's file system, so the store
host's directory is read here directly."""

from __future__ import annotations

import asyncio
import hashlib
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from tests.e2e.service_process import ServiceProcess
from tests.fleet.conftest import Fleet
from tests.fleet.test_fleet_backup import KEYS, _only, _read, _write
from tests.helpers import create_database, drop_database


def _files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


@pytest.fixture(scope="module")
async def store_service(
    fleet: Fleet, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[tuple[ServiceProcess, Path]]:
    work = tmp_path_factory.mktemp("fleet-store")
    inventory_dir = work / "inventory"
    inventory_dir.mkdir()
    shutil.copy(fleet.inventory, inventory_dir / "hosts.yml")
    shutil.copytree(
        Path(__file__).resolve().parents[2] / "inventory" / "group_vars", inventory_dir / "group_vars"
    )
    remote = work / "h2-store" / "dbvend-backups"
    url = await create_database()
    svc = ServiceProcess(
        url,
        work / "state",
        inventory_dir / "hosts.yml",
        work / "service.log",
        DBVEND_BACKUP_HOST="h2",
        DBVEND_BACKUP_HOST_DIR=str(remote),
    )
    await svc.start()
    try:
        yield svc, remote
    finally:
        await svc.stop()
        await drop_database(url)


async def test_store_on_h2_backup_from_h1_clone_onto_h3(
    store_service: tuple[ServiceProcess, Path], fleet: Fleet
) -> None:
    svc, remote = store_service
    ids: list[str] = []
    try:
        await _only(svc, "h1")
        status, inst = await svc.call("POST", "/instances?wait=300", json={"engine": "redis"})
        assert status == 201, inst
        ids.append(inst["id"])
        assert inst["placement"]["host"] == "h1"
        await asyncio.to_thread(_write, "redis", inst["connection"])

        status, backup = await svc.call("POST", f"/instances/{inst['id']}/backups?wait=300")
        assert status in (200, 201), backup
        assert backup["status"] == "completed", backup
        name = f"{backup['id']}.rdb.enc"
        assert sorted(p.name for p in remote.iterdir()) == [name]
        assert b"value 1" not in (remote / name).read_bytes()
        state = svc.log_path.parent / "state"
        assert _files(state / "backups") == []
        assert _files(state / "staging") == []

        await _only(svc, "h3")
        status, clone = await svc.call(
            "POST", "/instances?wait=300", json={"engine": "redis", "restore_from": backup["id"]}
        )
        assert status == 201, clone
        ids.append(clone["id"])
        assert clone["placement"]["host"] == "h3"
        assert clone["connection"]["host"] == fleet.host("h3").address
        assert await asyncio.to_thread(_read, "redis", clone["connection"]) == (KEYS, len(KEYS))

        async with (
            aiohttp.ClientSession() as s,
            s.get(
                f"{svc.base}/backups/{backup['id']}/download",
                headers={"Authorization": f"Bearer {svc.token}"},
            ) as r,
        ):
            assert r.status == 200, await r.text()
            body = await r.read()
        assert hashlib.sha256(body).hexdigest() == backup["sha256"]
        assert body.startswith(b"REDIS")

        status, _ = await svc.call("DELETE", f"/backups/{backup['id']}")
        assert status == 204
        assert list(remote.iterdir()) == []
    finally:
        for host in ("h1", "h2", "h3"):
            await svc.call("POST", f"/hosts/{host}/undrain")
        for iid in ids:
            await svc.call("DELETE", f"/instances/{iid}?wait=120")
