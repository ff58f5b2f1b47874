"""DBVEND_BACKUP_HOST with the local inventory host as the store host (its directory
DBVEND_BACKUP_HOST_DIR, through playbooks/backup_store.yml): a backup's file is there,
encrypted, and nowhere under the service's state dir; restore in place and the download
get it back from there; DELETE removes it there. A service whose DBVEND_BACKUP_HOST names
no inventory host does not start, and says why. (Across SSH hosts:
tests/fleet/test_fleet_backup.py.)"""

from __future__ import annotations

import asyncio
import hashlib
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import docker
import pytest
import redis

from tests.e2e.service_process import ServiceProcess
from tests.e2e.test_crash_recovery import containers_under
from tests.helpers import ROOT, create_database, drop_database, service_env, wait_until, write_inventory
from tests.ports import port_range


@pytest.fixture
async def store_host(
    tmp_path: Path, docker_client: docker.DockerClient
) -> AsyncIterator[tuple[ServiceProcess, Path]]:
    url = await create_database()
    inventory = write_inventory(tmp_path / "inventory", ports=port_range("e2e.backup_store_host"))
    remote = tmp_path / "store-host" / "dbvend-backups"
    svc = ServiceProcess(
        url,
        tmp_path / "state",
        inventory,
        tmp_path / "service.log",
        DBVEND_BACKUP_HOST="local",
        DBVEND_BACKUP_HOST_DIR=str(remote),
    )
    await svc.start()
    try:
        yield svc, remote
    finally:
        await svc.stop()
        for container in containers_under(docker_client, tmp_path).values():
            container.remove(force=True, v=True)  # type: ignore[attr-defined]
        await drop_database(url)


def _files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


async def test_backups_live_on_the_store_host(
    store_host: tuple[ServiceProcess, Path], tmp_path: Path
) -> None:
    svc, remote = store_host
    status, inst = await svc.call("POST", "/instances?wait=240", json={"engine": "redis"})
    assert status == 201, inst
    c = inst["connection"]
    client = redis.Redis(host=c["host"], port=c["port"], username=c["username"], password=c["password"])
    marker = "store-host-marker-value-0123456789"
    try:
        client.set("k", marker)
        status, backup = await svc.call("POST", f"/instances/{inst['id']}/backups?wait=240")
        assert status == 201, backup
        assert backup["status"] == "completed", backup

        name = f"{backup['id']}.rdb.enc"
        assert [p.name for p in _files(remote)] == [name]
        stored = (remote / name).read_bytes()
        assert marker.encode() not in stored  # ciphertext only
        assert (remote.stat().st_mode & 0o777, (remote / name).stat().st_mode & 0o777) == (0o700, 0o600)
        state = tmp_path / "state"
        assert _files(state / "backups") == []
        assert _files(state / "staging") == []

        client.set("k", "changed")
        status, restored = await svc.call(
            "POST", f"/instances/{inst['id']}/restore?wait=240", json={"backup_id": backup["id"]}
        )
        assert status == 200, restored
        assert client.get("k") == marker.encode()
    finally:
        client.close()

    async with (
        aiohttp.ClientSession() as s,
        s.get(
            f"{svc.base}/backups/{backup['id']}/download", headers={"Authorization": f"Bearer {svc.token}"}
        ) as r,
    ):
        assert r.status == 200, await r.text()
        body = await r.read()
    assert hashlib.sha256(body).hexdigest() == backup["sha256"]
    assert body.startswith(b"REDIS")
    assert marker.encode() in body

    async def staging_empty() -> bool:  # removed once the response has ended
        return _files(tmp_path / "state" / "staging") == []

    assert await wait_until(staging_empty, 30)

    status, _ = await svc.call("DELETE", f"/backups/{backup['id']}")
    assert status == 204
    assert _files(remote) == []


async def test_an_unknown_store_host_stops_the_start(tmp_path: Path) -> None:
    url = await create_database()
    try:
        env = service_env(url, tmp_path / "state", write_inventory(tmp_path / "inventory"))
        proc = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "service", "serve"],
            cwd=ROOT,
            env={**os.environ, **env, "DBVEND_BACKUP_HOST": "h9", "DBVEND_LISTEN": "127.0.0.1:0"},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    finally:
        await drop_database(url)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "DBVEND_BACKUP_HOST='h9' is not a host of the inventory" in proc.stderr
