"""A monitored service of its own for the monitoring tests: own database, own inventory
(the "monitoring" ports of tests/ports.py, data under the session dir, so the session clean-up removes its
containers), a 3 s collection interval, service rules every second, and a real
Alertmanager (Debian package) it pushes alerts to. Plus an HTTP receiver for webhooks.

The rest of the suite keeps the default interval (15 s): a collection round costs an
Ansible run, which would slow every other test on a small machine."""

from __future__ import annotations

import asyncio
import secrets
import shutil
import subprocess
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest
from aiohttp import web

from tests.e2e.service_process import free_port
from tests.helpers import Api, own_service
from tests.ports import port_range

COLLECT_INTERVAL = 3


@dataclass
class Monitored:
    api: Api
    app: web.Application
    db: asyncpg.Pool
    state_dir: Path
    admin_token: str
    port: int

    async def user(self, prefix: str = "mon") -> tuple[str, str]:
        """A new user: (username, token)."""
        username = f"{prefix}-{secrets.token_hex(3)}"
        password = secrets.token_urlsafe(16)
        status, body = await self.api.call(
            "POST", "/users", self.admin_token, json={"username": username, "password": password}
        )
        assert status == 201, body
        return username, await self.api.login(username, password)

    async def rounds_pass(self, count: int, seconds: float = 120) -> None:
        """Until `count` more collection rounds have ended: what "nothing more happens"
        checks wait for (a fixed sleep sees fewer rounds on a loaded machine)."""
        from service.app import RUNTIME

        monitoring = self.app[RUNTIME].monitoring
        assert monitoring is not None
        target = monitoring.collector.rounds + count
        deadline = asyncio.get_running_loop().time() + seconds
        while monitoring.collector.rounds < target:
            assert asyncio.get_running_loop().time() < deadline, f"{count} rounds did not end in {seconds} s"
            await asyncio.sleep(0.1)

    async def events(self, **filters: str) -> list[dict[str, Any]]:
        query = "&".join(f"{k}={v}" for k, v in filters.items())
        status, body = await self.api.call("GET", f"/events?limit=1000&{query}", self.admin_token)
        assert status == 200, body
        return list(body["items"])

    async def alerts(self, token: str | None = None, **filters: str) -> list[dict[str, Any]]:
        query = "&".join(f"{k}={v}" for k, v in filters.items())
        status, body = await self.api.call("GET", f"/alerts?{query}", token or self.admin_token)
        assert status == 200, body
        return list(body["items"])


@dataclass
class Receiver:
    """An HTTP server that keeps every JSON body posted to it, by path."""

    base: str
    posts: dict[str, list[Any]] = field(default_factory=dict)

    def url(self, name: str) -> str:
        return f"{self.base}/{name}"

    def received(self, name: str) -> list[Any]:
        return self.posts.get(f"/{name}", [])


@pytest.fixture(scope="package")
async def receiver() -> AsyncIterator[Receiver]:
    port = free_port()
    found = Receiver(f"http://127.0.0.1:{port}")

    async def keep(request: web.Request) -> web.Response:
        found.posts.setdefault(request.path, []).append(await request.json())
        return web.Response(status=200)

    app = web.Application()
    app.router.add_post("/{name}", keep)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    try:
        yield found
    finally:
        await runner.cleanup()


def _binary(name: str) -> str:
    path = shutil.which(name)
    assert path, f"{name} is missing: scripts/ensure-monitoring-tools.sh installs it (Debian packages)"
    return path


async def _wait_http(url: str, seconds: float = 30) -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    while asyncio.get_running_loop().time() < deadline:
        try:
            async with aiohttp.ClientSession() as s, s.get(url) as r:
                if r.status == 200:
                    return
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.2)
    raise AssertionError(f"{url} did not answer")


@pytest.fixture(scope="package")
def tools_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("monitoring-tools")


@pytest.fixture(scope="package")
async def alertmanager(tools_dir: Path) -> AsyncIterator[str]:
    """A real Alertmanager on 127.0.0.1 with its own config and storage; its URL."""
    port = free_port()
    config = tools_dir / "alertmanager.yml"
    config.write_text('route:\n  receiver: "null"\n  group_wait: 1s\nreceivers:\n  - name: "null"\n')
    log = (tools_dir / "alertmanager.log").open("wb")
    proc = subprocess.Popen(  # noqa: ASYNC220 - Popen returns at once; the wait is async below
        [
            _binary("prometheus-alertmanager"),
            f"--config.file={config}",
            f"--storage.path={tools_dir / 'alertmanager-data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",
        ],
        stdout=log,
        stderr=log,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        await _wait_http(f"{url}/-/ready")
        yield url
    finally:
        proc.terminate()
        await asyncio.to_thread(proc.wait, 30)
        log.close()


@pytest.fixture(scope="package")
async def monitored(session_dir: Path, alertmanager: str) -> AsyncIterator[Monitored]:
    from service.accounts.endpoints import THROTTLE

    # Routes that exist only here: an unhandled exception, and a slow answer.
    async def boom(_request: web.Request) -> web.Response:
        raise RuntimeError("boom (a test route failing on purpose)")

    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(float(request.query.get("seconds", "1.3")))
        return web.json_response({"slept": True})

    def routes(app: web.Application) -> None:
        app.router.add_get("/test/boom", boom)
        app.router.add_get("/test/slow", slow)

    work = session_dir / "monitoring"
    async with own_service(
        work,
        port_range("monitoring"),
        routes=routes,
        DBVEND_COLLECT_INTERVAL=str(COLLECT_INTERVAL),
        DBVEND_ALERT_EVAL_INTERVAL="1",
        DBVEND_SLOW_REQUEST_SECONDS="1",
        DBVEND_ALERTMANAGER_URL=alertmanager,
        # The receivers below listen on 127.0.0.1, which the webhook policy refuses by default.
        DBVEND_WEBHOOK_ALLOW="127.0.0.0/8",
    ) as svc:
        try:
            yield Monitored(svc.api, svc.app, svc.db, work / "state", svc.admin_token, svc.port)
        finally:
            svc.app[THROTTLE].reset()


@pytest.fixture
def clear_login_throttle(monitored: Monitored) -> Iterator[None]:
    from service.accounts.endpoints import THROTTLE

    yield
    monitored.app[THROTTLE].reset()
