"""No secret the service knows reaches a disk it writes, nor a container's env or arguments,
nor a command line: the service as a real process, its secrets in its environment
(DBVEND_ADMIN_PASSWORD, DBVEND_SECRET_KEY, DATABASE_URL), creates a mysql and a redis
instance with TLS required, gives one a new certificate and deletes both while health
checks and collection rounds run. All the while a watcher reads every file of the state
dir (runner private data dirs and artifacts included), of the Ansible home and of the data
root (all but the servers' own data directories) and every process's command line; at the
end once more, with the service's log. No secret may be found in any of them.

TLS private keys (made on the controller, docs/tls.md "Keys"): each line of a key is
looked for too. A key may be only in its server's file (<instance>/tls/server.pem,
<instance>/config/tls/server.pem: mode 0600) and, while a run ships it, in that run's
private inventory (state/runs/<run>/: 0700, removed after the run, like the password
hashes) and Ansible's own local temp (copy module; <home>/.ansible/tmp: 0700): nowhere
else, never after the run, never in the API, a log, a command line or a container."""

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
from tests.helpers import ADMIN_PASSWORD, create_database, drop_database, wait_until, write_inventory
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
        # TLS keys: where one may be while a run ships it (see the module's docstring).
        self.keys: dict[str, str] = {}
        self.found: set[tuple[str, str]] = set()
        self.keys_in: set[tuple[str, str]] = set()
        self.commands_read = 0
        self.processes_read = 0
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
            self._processes()
            for directory, subdirs, files in os.walk(root):
                # The servers' own data directories (<data root>/<id>/data) are not ours to read.
                if Path(directory).parent.parent == root and Path(directory).name == "data":
                    subdirs.clear()
                    continue
                for name in files:
                    self._read(Path(directory) / name)

    def _processes(self) -> None:
        """Every process's command line (ps shows them to every user)."""
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    self._check(
                        entry / "cmdline", (entry / "cmdline").read_bytes().decode("utf-8", "replace")
                    )
                except OSError:
                    continue
                self.processes_read += 1

    def _read(self, path: Path) -> None:
        try:
            if not path.is_file():
                return
            content = path.read_bytes().decode("utf-8", "replace")
        except OSError:
            return  # gone between listing and reading: a run that ended
        if path.name == "command" and path.parent.parent.name == "artifacts":
            self.commands_read += 1
        self._check(path, content)

    def _check(self, path: Path, content: str) -> None:
        for name, value in list(self.secrets.items()):
            if value in content:
                self.found.add((name, str(path)))
        for name, line in list(self.keys.items()):
            if line in content:
                self.keys_in.add((name, str(path)))


def key_lines(pem: str) -> list[str]:
    """The base64 lines of a PEM key: what any copy of it (JSON-escaped too) contains."""
    return [line for line in pem.splitlines() if line and not line.startswith("-----")]


def allowed_key_place(path: str, state: Path, home: Path, data_root: Path) -> bool:
    p = Path(path)
    if p.is_relative_to(data_root) and p.parent.name == "tls":
        return True  # server.pem, or the copy module's temporary file beside it (renamed onto it)
    return p.is_relative_to(state / "runs") or p.is_relative_to(home / ".ansible" / "tmp")


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


async def watch_keys(
    pool: asyncpg.Pool, secret_key: str, instance_id: str, watcher: Watcher, *, pending: bool = False
) -> None:
    """The instance's certificate key, as soon as the worker has issued it (before its play)."""
    state = "pending" if pending else "%"
    for _ in range(600):
        blob = await pool.fetchval(
            "SELECT key_sealed FROM tls_certificates WHERE instance_id = $1 AND state LIKE $2"
            " ORDER BY id DESC LIMIT 1",
            instance_id,
            state,
        )
        if blob is not None:
            for n, line in enumerate(key_lines(decrypt(secret_key, bytes(blob))["key_pem"])):
                watcher.keys[f"{instance_id} key line {n} ({state})"] = line
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"no certificate issued for {instance_id}")


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
                "POST",
                "/instances",
                json={"engine": engine, "name": f"{engine}-one", "settings": {"tls": "required"}},
            )
            assert status == 202, inst
            # Known to the watcher at once, while the provisioning run is still going.
            blob = await pool.fetchval("SELECT secrets FROM instances WHERE id = $1", inst["id"])
            stored = decrypt(secret_key, blob)
            watcher.secrets[f"{engine} password"] = stored["password"]
            watcher.secrets[f"{engine} admin password"] = stored["admin_password"]
            await watch_keys(pool, secret_key, inst["id"], watcher)
            made[engine] = await running(svc, inst["id"])
            assert made[engine]["connection"]["password"] == stored["password"]
            assert made[engine]["connection"]["tls"]["mode"] == "required"

        # A new certificate for one of them: its new key is watched from its issue on.
        status, body = await svc.call("POST", f"/instances/{made['redis']['id']}/rotate-certificate")
        assert status == 202, body
        await watch_keys(pool, secret_key, made["redis"]["id"], watcher, pending=True)

        async def finished() -> bool:
            status, op = await svc.call("GET", f"/operations/{body['id']}")
            assert status == 200, op
            return op["status"] in ("succeeded", "failed")

        assert await wait_until(finished, 180, interval=0.2)
        status, op = await svc.call("GET", f"/operations/{body['id']}")
        assert op["status"] == "succeeded", op
        # No key in what the API shows.
        for inst in made.values():
            status, shown = await svc.call("GET", f"/instances/{inst['id']}")
            assert "PRIVATE KEY" not in json.dumps(shown)
            for line in watcher.keys.values():
                assert line not in json.dumps(shown)

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
            for name, value in (*watcher.secrets.items(), *watcher.keys.items()):
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
        during = set(watcher.keys_in)
    watcher.keys_in.clear()
    watcher.scan(extra=(log,))
    assert watcher.commands_read > 0, "the watcher never saw a runner's artifacts: it proves nothing"
    assert watcher.processes_read > 0
    assert not watcher.found, sorted({(name, Path(path).name) for name, path in watcher.found})
    assert len(watcher.keys) >= 3 * 3, "three keys (two instances, one rotation) should have been watched"
    # After the runs: no key anywhere (the instances and their files are gone too) ...
    assert not watcher.keys_in, sorted(watcher.keys_in)
    # ... and while they ran, only where a run ships it (see the module's docstring).
    stray = [(n, p) for n, p in during if not allowed_key_place(p, state, home, data_root)]
    assert not stray, stray
    assert any(Path(p).name == "server.pem" for _, p in during), "the watcher never saw a key file"
