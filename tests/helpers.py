"""Helpers the tests share: databases, inventories, an API client, container lookups."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import secrets
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import docker
import yaml
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from tests.ports import port_range

ROOT = Path(__file__).resolve().parent.parent
STATE = Path(os.environ.get("DBVEND_STATE_DIR", ROOT / ".state"))
ADMIN_PASSWORD = "admin-" + secrets.token_urlsafe(16)
# The session service also serves the Open Service Broker API (tests/broker).
BROKER_USERNAME = "platform"
BROKER_PASSWORD = "broker-" + secrets.token_urlsafe(24)


# Tests own the ranges of tests/ports.py; a dev service on the default inventory uses 20000+.
TEST_PORTS = port_range("session")
TEST_MYSQL_IMAGE = os.environ.get("DBVEND_TEST_MYSQL_IMAGE", "dbvend/mariadb:10.11")
TEST_REDIS_IMAGE = os.environ.get("DBVEND_TEST_REDIS_IMAGE", "dbvend/redis:7.0")


def base_database_url() -> str:
    url = os.environ.get("DBVEND_TEST_DATABASE_URL") or os.environ.get("DATABASE_URL")
    if url:
        return url
    return (STATE / "database_url").read_text().strip()


def _with_db(url: str, name: str) -> str:
    head, _, _ = url.rpartition("/")
    return f"{head}/{name}"


# Every test database is a copy of one migrated template per set of migrations (CREATE
# DATABASE ... TEMPLATE copies files; migrating from nothing took seconds each time).
_TEMPLATE_LOCK = 0x64627474  # "dbtt": one process at a time makes the template
_KEEP_TEMPLATES = 5
_template: str | None = None


def _migrations_digest() -> str:
    digest = hashlib.sha256()
    for path in sorted((ROOT / "service" / "db" / "migrations").glob("*.sql")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


async def migrated_template() -> str:
    """The template's name, made (and migrated) by the first process that asks."""
    global _template
    if _template is not None:
        return _template
    from service.db.migrate import migrate

    name = "dbvend_tpl_" + _migrations_digest()
    conn = await asyncpg.connect(base_database_url())
    try:
        await conn.execute("SELECT pg_advisory_lock($1)", _TEMPLATE_LOCK)
        try:
            if not await conn.fetchval("SELECT datistemplate FROM pg_database WHERE datname = $1", name):
                # Not there, or half made by a run that was killed while migrating it.
                await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                await conn.execute(f'CREATE DATABASE "{name}"')
                migrator = await asyncpg.connect(_with_db(base_database_url(), name))
                try:
                    await migrate(migrator)
                finally:
                    await migrator.close()
                await conn.execute(f'ALTER DATABASE "{name}" IS_TEMPLATE true')
                await _prune_templates(conn, keep=name)
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1)", _TEMPLATE_LOCK)
    finally:
        await conn.close()
    _template = name
    return name


async def _prune_templates(conn: asyncpg.Connection, *, keep: str) -> None:
    """Templates of older migrations, but the newest few (another checkout may use one)."""
    old = await conn.fetch(
        "SELECT datname FROM pg_database WHERE datname LIKE 'dbvend\\_tpl\\_%' AND datname <> $1"
        " ORDER BY oid DESC OFFSET $2",
        keep,
        _KEEP_TEMPLATES - 1,
    )
    for row in old:
        await conn.execute(f'ALTER DATABASE "{row["datname"]}" IS_TEMPLATE false')
        await conn.execute(f'DROP DATABASE IF EXISTS "{row["datname"]}" WITH (FORCE)')


async def create_database(*, migrated: bool = True) -> str:
    """A database of the test's own: migrated (a copy of the template) unless asked empty."""
    name = "dbvend_test_" + secrets.token_hex(4)
    template = f' TEMPLATE "{await migrated_template()}"' if migrated else ""
    conn = await asyncpg.connect(base_database_url())
    try:
        await conn.execute(f'CREATE DATABASE "{name}"{template}')
    finally:
        await conn.close()
    return _with_db(base_database_url(), name)


async def drop_database(url: str) -> None:
    name = url.rpartition("/")[2]
    conn = await asyncpg.connect(base_database_url())
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


def write_inventory(
    directory: Path,
    *,
    ports: tuple[int, int] = TEST_PORTS,
    capacity_mb: int = 16384,
    pool: dict[str, Any] | None = None,
) -> Path:
    """The test host; no warm pool unless a test asks for one (dbvend_pool)."""
    data_root = directory / "data"
    data_root.mkdir(parents=True, exist_ok=True)
    inventory = {
        "all": {
            "children": {
                "dbvend_hosts": {
                    "hosts": {
                        "local": {
                            "ansible_connection": "local",
                            "ansible_python_interpreter": "{{ ansible_playbook_python }}",
                            "dbvend_address": "127.0.0.1",
                            "dbvend_bind_address": "127.0.0.1",
                            "dbvend_port_range": list(ports),
                            "dbvend_capacity_mb": capacity_mb,
                            "dbvend_data_root": str(data_root),
                            # Another build of an image can be tried without retagging.
                            "dbvend_mysql_image": TEST_MYSQL_IMAGE,
                            "dbvend_redis_image": TEST_REDIS_IMAGE,
                            **({"dbvend_pool": pool} if pool is not None else {}),
                        }
                    }
                }
            }
        }
    }
    path = directory / "hosts.yml"
    path.write_text(yaml.safe_dump(inventory))
    shutil.copytree(ROOT / "inventory" / "group_vars", directory / "group_vars", dirs_exist_ok=True)
    return path


def service_env(database_url: str, state_dir: Path, inventory: Path, **extra: str) -> dict[str, str]:
    return {
        "DATABASE_URL": database_url,
        "DBVEND_STATE_DIR": str(state_dir),
        "DBVEND_INVENTORY": str(inventory),
        "DBVEND_ADMIN_PASSWORD": ADMIN_PASSWORD,
        "DBVEND_ENV": "development",
        "DBVEND_BROKER": "on",
        "DBVEND_BROKER_USERNAME": BROKER_USERNAME,
        "DBVEND_BROKER_PASSWORD": BROKER_PASSWORD,
        # Background work is off unless a test is about it: a collection round is an
        # Ansible run competing with the test's own plays for two cores.
        "DBVEND_COLLECT_INTERVAL": "0",
        # New instances are plain unless a test asks for TLS (settings.tls, or this variable
        # in `extra`): most tests talk to their instances with plain clients.
        "DBVEND_TLS_DEFAULT": "off",
        **extra,
    }


def settings_from_env(env: dict[str, str], *, unset: tuple[str, ...] = ()) -> Any:
    """The service's Settings as load_settings() reads them from `env` (with `unset` absent),
    leaving this process's environment as it was."""
    from service.config import load_settings

    saved = {k: os.environ.get(k) for k in (*env, *unset)}
    for key in unset:
        os.environ.pop(key, None)
    os.environ.update(env)
    try:
        return load_settings()
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


class Api:
    """A thin client for the running service: JSON in, (status, JSON) out."""

    def __init__(self, client: TestClient) -> None:
        self.client = client

    async def call(self, method: str, path: str, token: str | None = None, **kw: Any) -> tuple[int, Any]:
        headers = kw.pop("headers", {})
        if token:
            headers["Authorization"] = f"Bearer {token}"
        async with self.client.request(method, "/api/v1" + path, headers=headers, **kw) as resp:
            body = await resp.json() if resp.content_type == "application/json" else await resp.text()
            return resp.status, body

    async def login(self, username: str, password: str) -> str:
        status, body = await self.call(
            "POST", "/auth/login", json={"username": username, "password": password}
        )
        assert status == 200, body
        return str(body["token"])


@dataclass
class OwnService:
    """An in-process service of a test module's own: its database, state and inventory."""

    api: Api
    app: web.Application
    db: asyncpg.Pool
    admin_token: str
    port: int


@contextlib.asynccontextmanager
async def own_service(
    work: Path,
    ports: tuple[int, int],
    *,
    unset: tuple[str, ...] = (),
    routes: Callable[[web.Application], None] | None = None,
    **env: str,
) -> AsyncIterator[OwnService]:
    """A fresh database, `work`/state and an inventory with `ports`; `env` on top of the
    test defaults (`unset` absent); `routes` may add test-only routes before it starts."""
    from service.app import build_app
    from service.db.pool import create_pool

    url = await create_database()
    settings = settings_from_env(
        service_env(url, work / "state", write_inventory(work / "inventory", ports=ports), **env),
        unset=unset,
    )
    app = build_app(settings)
    if routes is not None:
        routes(app)
    server = TestServer(app, host="127.0.0.1")
    client = TestClient(server)
    await client.start_server()
    pool = await create_pool(url, min_size=1, max_size=4)
    api = Api(client)
    try:
        token = await api.login("admin", ADMIN_PASSWORD)
        yield OwnService(api, app, pool, token, server.port or 0)
    finally:
        await client.close()
        await pool.close()
        await drop_database(url)


def dbvend_containers(client: docker.DockerClient, instance_id: str | None = None) -> list[Any]:
    label = f"dbvend.instance={instance_id}" if instance_id else "dbvend.instance"
    return list(client.containers.list(all=True, ignore_removed=True, filters={"label": label}))


async def wait_until(predicate: Callable[[], Awaitable[bool]], seconds: float, interval: float = 0.5) -> bool:
    deadline = asyncio.get_running_loop().time() + seconds
    while asyncio.get_running_loop().time() < deadline:
        if await predicate():
            return True
        await asyncio.sleep(interval)
    return await predicate()


def secret_box(state_dir: Path) -> Any:
    from service.crypto import SecretBox

    return SecretBox(((state_dir / "secret.key").read_text().strip(),))


async def admin_password_of(db: asyncpg.Pool, state_dir: Path, instance_id: str) -> str:
    """The instance's admin password, as only the service (and this test) can read it."""
    blob = await db.fetchval("SELECT secrets FROM instances WHERE id = $1", instance_id)
    return str(secret_box(state_dir).open(blob)["admin_password"])
