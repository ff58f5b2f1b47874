"""No secret the service knows reaches a disk it writes, nor a container's env or arguments:
the service as a real process, its secrets in its environment (DBVEND_ADMIN_PASSWORD,
DBVEND_SECRET_KEY, DATABASE_URL), creates and deletes a mysql and a redis instance while
health checks and collection rounds run. All the while a watcher reads every file of the
state dir (runner private data dirs and artifacts included), of the Ansible home and of
the data root (all but the servers' own data directories); at the end once more, with the
service's log. No secret may be found in any of them."""

from __future__ import annotations

import asyncio
import json
import os
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import docker
import pytest
from cryptography.fernet import Fernet

from service.crypto import SecretBox
from tests.e2e.service_process import ServiceProcess
from tests.helpers import ADMIN_PASSWORD, create_database, drop_database, write_inventory
from tests.ports import port_range


@pytest.fixture
async def own_database() -> AsyncIterator[str]:
    url = await create_database()
    yield url
    await drop_database(url)


@pytest.fixture
def own_inventory(tmp_path: Path, docker_client: docker.DockerClient) -> Iterator[Path]:
    yield write_inventory(tmp_path / "inventory", ports=port_range("e2e.secrets"))
    for container in docker_client.containers.list(
        all=True, ignore_removed=True, filters={"label": "dbvend.managed=true"}
    ):
        if any(str(m.get("Source", "")).startswith(str(tmp_path)) for m in container.attrs.get("Mounts", [])):
            container.remove(force=True, v=True)


class Watcher:
    """Reads every file under the roots, over and over, until stopped; remembers which
    secret it saw in which file, and which runner artifacts it managed to read."""

    def __init__(self, roots: list[Path]) -> None:
        self.roots = roots
        self.secrets: dict[str, str] = {}
        self.found: set[tuple[str, str]] = set()
        self.commands_read = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=60)

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.scan()
            self._stop.wait(0.02)

    def scan(self, extra: tuple[Path, ...] = ()) -> None:
        for root in (*self.roots, *extra):
            if root.is_file():
                self._read(root)
                continue
            # os.walk ignores dirs that vanish while it walks (a run that ended).
            for directory, subdirs, files in os.walk(root):
                # The servers' own data directories (<data root>/<id>/data) are not ours to read.
                if Path(directory).parent.parent == root and Path(directory).name == "data":
                    subdirs.clear()
                    continue
                for name in files:
                    self._read(Path(directory) / name)

    def _read(self, path: Path) -> None:
        try:
            if not path.is_file():
                return
            content = path.read_bytes().decode("utf-8", "replace")
        except OSError:
            return  # gone between listing and reading: a run that ended
        if path.name == "command" and path.parent.parent.name == "artifacts":
            self.commands_read += 1
        for name, value in list(self.secrets.items()):
            if value in content:
                self.found.add((name, str(path)))


async def running(svc: ServiceProcess, instance_id: str) -> dict[str, Any]:
    for _ in range(900):
        status, inst = await svc.call("GET", f"/instances/{instance_id}")
        assert status == 200, inst
        if inst["status"] != "provisioning":
            assert inst["status"] == "running", inst
            return dict(inst)
        await asyncio.sleep(0.2)
    raise AssertionError(f"{instance_id} still provisioning")


def decrypt(key: str, blob: bytes) -> dict[str, str]:
    return SecretBox((key,)).open(blob)


async def test_no_secret_in_any_file_or_container_env(
    own_database: str, own_inventory: Path, tmp_path: Path, docker_client: docker.DockerClient
) -> None:
    secret_key = Fernet.generate_key().decode()
    state, home, log = tmp_path / "state", tmp_path / "home", tmp_path / "service.log"
    home.mkdir()
    data_root = own_inventory.parent / "data"
    database_password = urlsplit(own_database).password
    assert database_password, "the test database URL should carry a password to look for"
    watcher = Watcher([state, home, data_root])
    watcher.secrets.update(
        {
            "DBVEND_ADMIN_PASSWORD": ADMIN_PASSWORD,
            "DBVEND_SECRET_KEY": secret_key,
            "DATABASE_URL password": database_password,
        }
    )
    svc = ServiceProcess(
        own_database,
        state,
        own_inventory,
        log,
        DBVEND_SECRET_KEY=secret_key,
        # Ansible's home (local temp files, module payloads) is watched too.
        HOME=str(home),
        DBVEND_HEALTH_INTERVAL="1",
        DBVEND_COLLECT_INTERVAL="1",
    )
    watcher.start()
    await svc.start()
    pool = await asyncpg.create_pool(own_database, min_size=1, max_size=2)
    try:
        watcher.secrets["admin token"] = svc.token
        user_password = "user-" + Fernet.generate_key().decode()[:24]
        status, body = await svc.call(
            "POST", "/users", json={"username": "tenant", "password": user_password}
        )
        assert status == 201, body
        watcher.secrets["user password"] = user_password

        made = {}
        for engine in ("mysql", "redis"):
            status, inst = await svc.call(
                "POST", "/instances", json={"engine": engine, "name": f"{engine}-one"}
            )
            assert status == 202, inst
            # Known to the watcher at once, while the provisioning run is still going.
            blob = await pool.fetchval("SELECT secrets FROM instances WHERE id = $1", inst["id"])
            stored = decrypt(secret_key, blob)
            watcher.secrets[f"{engine} password"] = stored["password"]
            watcher.secrets[f"{engine} admin password"] = stored["admin_password"]
            made[engine] = await running(svc, inst["id"])
            assert made[engine]["connection"]["password"] == stored["password"]

        # The containers' env and arguments (what `docker inspect` shows) hold none either.
        for engine, inst in made.items():
            container = docker_client.containers.get(inst["facts"]["container_name"])
            inspected = json.dumps(
                {
                    "env": container.attrs["Config"]["Env"],
                    "cmd": container.attrs["Config"]["Cmd"],
                    "args": container.attrs["Args"],
                    "entrypoint": container.attrs["Config"]["Entrypoint"],
                }
            )
            for name, value in watcher.secrets.items():
                assert value not in inspected, f"{name} in the {engine} container's env or arguments"

        # A few health checks and collection rounds (playbooks and probes) while it runs:
        # two samples of each instance and a health check from now on.
        checked = await pool.fetchval("SELECT max(last_check) FROM hosts")

        async def rounds_ran() -> bool:
            per_instance = await pool.fetch(
                "SELECT instance_id, count(*) AS n FROM samples WHERE at > $1 GROUP BY instance_id", checked
            )
            return (
                len([r for r in per_instance if r["n"] >= 2]) == len(made)
                and await pool.fetchval("SELECT max(last_check) FROM hosts") > checked
            )

        for _ in range(240):
            if await rounds_ran():
                break
            await asyncio.sleep(0.25)
        else:
            raise AssertionError("no collection rounds or health checks ran")
        for inst in made.values():
            status, _ = await svc.call("DELETE", f"/instances/{inst['id']}?wait=120")
            assert status == 204
    finally:
        await pool.close()
        await svc.stop()
        watcher.stop()
    watcher.scan(extra=(log,))
    assert watcher.commands_read > 0, "the watcher never saw a runner's artifacts: it proves nothing"
    assert not watcher.found, sorted({(name, Path(path).name) for name, path in watcher.found})
