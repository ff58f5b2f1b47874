"""The warm pool with the service as a real process: its own database, inventory (a Redis
pool), port range and state, and a pool keeper that refills every second."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import docker
import pytest

from tests.e2e.service_process import ServiceProcess
from tests.helpers import create_database, drop_database, secret_box, write_inventory
from tests.ports import port_range

POOL_PORTS = port_range("pool")
POOL_ENV = {
    "DBVEND_POOL_INTERVAL": "1",
    "DBVEND_COLLECT_INTERVAL": "0",
    "DBVEND_HEALTH_INTERVAL": "30",
    "DBVEND_LEASE_SECONDS": "10",
}


def containers_under(client: docker.DockerClient, root: Path) -> dict[str, Any]:
    found = {}
    for c in client.containers.list(all=True, ignore_removed=True, filters={"label": "dbvend.managed=true"}):
        if any(str(m.get("Source", "")).startswith(str(root)) for m in c.attrs.get("Mounts", [])):
            found[c.labels["dbvend.instance"]] = c
    return found


@dataclass
class PoolRig:
    svc: ServiceProcess
    db: asyncpg.Pool
    root: Path
    inventory: Path
    state: Path

    async def slots(self, status: str = "ready") -> list[asyncpg.Record]:
        return list(
            await self.db.fetch("SELECT * FROM pool_slots WHERE status = $1 ORDER BY ready_at, id", status)
        )

    async def wait_ready(self, count: int, seconds: float = 120) -> list[asyncpg.Record]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while True:
            ready = await self.slots()
            if len(ready) >= count:
                return ready
            if loop.time() > deadline:
                rows = await self.db.fetch("SELECT id, status, error FROM pool_slots")
                raise AssertionError(f"pool not refilled to {count}: {[dict(r) for r in rows]}")
            await asyncio.sleep(0.5)

    def slot_secrets(self, row: asyncpg.Record) -> dict[str, str]:
        return dict(secret_box(self.state).open(bytes(row["secrets"])))

    def instance_secrets(self, blob: bytes) -> dict[str, str]:
        return dict(secret_box(self.state).open(bytes(blob)))

    async def user(self) -> str:
        """A new user's token."""
        name, password = f"pool-{secrets.token_hex(3)}", secrets.token_urlsafe(16)
        status, body = await self.svc.call("POST", "/users", json={"username": name, "password": password})
        assert status == 201, body
        status, body = await call(
            self.svc, "", "POST", "/auth/login", json={"username": name, "password": password}
        )
        assert status == 200, body
        return str(body["token"])


async def call(svc: ServiceProcess, token: str, method: str, path: str, **kw: Any) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with aiohttp.ClientSession() as s, s.request(method, svc.base + path, headers=headers, **kw) as r:
        body = await r.json() if r.content_type == "application/json" else await r.text()
        return r.status, body


async def start_rig(
    url: str, root: Path, pool: dict[str, Any], ports: tuple[int, int] = POOL_PORTS, **env: str
) -> tuple[PoolRig, asyncpg.Pool]:
    from service.db.pool import create_pool

    inventory = write_inventory(root / "inventory", ports=ports, pool=pool)
    state = root / "state"
    svc = ServiceProcess(url, state, inventory, root / "service.log", **{**POOL_ENV, **env})
    await svc.start()
    db = await create_pool(url, min_size=1, max_size=4)
    return PoolRig(svc, db, root, inventory, state), db


@pytest.fixture
async def pool_database() -> AsyncIterator[str]:
    url = await create_database()
    yield url
    await drop_database(url)


@pytest.fixture
def pool_root(tmp_path: Path, docker_client: docker.DockerClient) -> Iterator[Path]:
    yield tmp_path
    for container in containers_under(docker_client, tmp_path).values():
        container.remove(force=True, v=True)


@pytest.fixture
async def rig(pool_database: str, pool_root: Path) -> AsyncIterator[PoolRig]:
    made, db = await start_rig(pool_database, pool_root, {"redis": 2})
    try:
        yield made
    finally:
        await made.svc.stop()
        await db.close()
