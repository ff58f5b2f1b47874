"""Test set-up with real parts: a fresh PostgreSQL database in the embedded cluster
(built by the migrations), an inventory whose only host is this machine's Docker engine
with its own port range and data root, and the service running in-process."""

from __future__ import annotations

import secrets
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import asyncpg
import docker
import pytest
from aiohttp.test_utils import TestClient, TestServer

from tests.helpers import (
    ADMIN_PASSWORD,
    Api,
    create_database,
    drop_database,
    service_env,
    settings_from_env,
    write_inventory,
)

# How the suite is spread over pytest-xdist workers, and what each ran (tests/scheduling.py).
pytest_plugins = ["tests.scheduling"]


@pytest.fixture(scope="session")
def docker_client() -> Iterator[docker.DockerClient]:
    client = docker.from_env()
    yield client
    client.close()


@pytest.fixture(scope="session")
def session_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("dbvend")


@pytest.fixture(scope="session")
async def database_url() -> AsyncIterator[str]:
    url = await create_database()
    yield url
    await drop_database(url)


@pytest.fixture(scope="session")
async def db(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    from service.db.migrate import migrate
    from service.db.pool import create_pool

    pool = await create_pool(database_url, min_size=1, max_size=4)
    async with pool.acquire() as conn:
        await migrate(conn)
    yield pool
    await pool.close()


@pytest.fixture(scope="session")
async def scratch_db() -> AsyncIterator[asyncpg.Pool]:
    """A migrated database of its own, for tests that write rows by hand (hosts, claims,
    operations): no service of the session sees them, so none places an instance on a
    made-up host or claims a made-up operation."""
    from service.db.migrate import migrate
    from service.db.pool import create_pool

    url = await create_database()
    pool = await create_pool(url, min_size=1, max_size=4)
    async with pool.acquire() as conn:
        await migrate(conn)
    yield pool
    await pool.close()
    await drop_database(url)


@pytest.fixture(scope="session")
def inventory(session_dir: Path) -> Path:
    return write_inventory(session_dir / "inventory")


@pytest.fixture(scope="session")
async def service(
    database_url: str, inventory: Path, session_dir: Path, db: asyncpg.Pool
) -> AsyncIterator[Api]:
    from service.app import build_app

    env = service_env(database_url, session_dir / "state", inventory)
    settings = settings_from_env(env)
    server = TestServer(build_app(settings), host="127.0.0.1")
    client = TestClient(server)
    await client.start_server()
    try:
        yield Api(client)
    finally:
        await client.close()


@pytest.fixture(scope="session")
async def admin_token(service: Api) -> str:
    return await service.login("admin", ADMIN_PASSWORD)


UserFactory = Callable[..., Awaitable[tuple[str, str]]]


@pytest.fixture(scope="session")
def make_user(service: Api, admin_token: str) -> UserFactory:
    """Creates a fresh user and returns (username, token)."""

    async def make(prefix: str = "user") -> tuple[str, str]:
        username = f"{prefix}-{secrets.token_hex(3)}"
        password = secrets.token_urlsafe(16)
        status, body = await service.call(
            "POST", "/users", admin_token, json={"username": username, "password": password}
        )
        assert status == 201, body
        return username, await service.login(username, password)

    return make


@pytest.fixture(scope="session", autouse=True)
def _remove_leftover_containers(session_dir: Path) -> Iterator[None]:
    """Containers of this session's data root are removed at the end, whatever happened."""
    yield
    root = str(session_dir)
    client = docker.from_env()
    for container in client.containers.list(
        all=True, ignore_removed=True, filters={"label": "dbvend.managed=true"}
    ):
        mounts = container.attrs.get("Mounts", [])
        if any(str(m.get("Source", "")).startswith(root) for m in mounts):
            container.remove(force=True, v=True)
    client.close()
    subprocess.run(["rm", "-rf", root], check=False)
