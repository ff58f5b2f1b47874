"""Type=notify is true for both units: `python -m service worker` and `serve` send READY=1
to $NOTIFY_SOCKET only once they can do their work (the API: when its port answers), the
worker survives SIGHUP (it re-reads the inventory; without a handler `systemctl reload`
would kill it), and SIGTERM ends it cleanly after STOPPING=1."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import pytest

from tests.e2e.service_process import free_port
from tests.helpers import ROOT, create_database, drop_database, service_env, write_inventory
from tests.ports import port_range


@pytest.fixture(scope="module")
async def own_database() -> AsyncIterator[str]:
    url = await create_database()
    yield url
    await drop_database(url)


@pytest.fixture
def notify_socket(tmp_path: Path) -> Iterator[socket.socket]:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(tmp_path / "notify"))
    sock.setblocking(False)
    yield sock
    sock.close()


async def _next_message(sock: socket.socket, seconds: float) -> str:
    loop = asyncio.get_running_loop()
    data = await asyncio.wait_for(loop.sock_recv(sock, 4096), timeout=seconds)
    return data.decode()


def _start(
    command: str, database_url: str, tmp_path: Path, sock: socket.socket, **env: str
) -> subprocess.Popen[bytes]:
    full_env = {
        **os.environ,
        **service_env(
            database_url,
            tmp_path / "state",
            write_inventory(tmp_path / "inventory", ports=port_range("deploy.readiness")),
        ),
        "NOTIFY_SOCKET": str(sock.getsockname()),
        "DBVEND_COLLECT_INTERVAL": "0",
        "DBVEND_POOL": "off",
        **env,
    }
    with (tmp_path / f"{command}.log").open("ab") as log:  # the child keeps its own descriptor
        return subprocess.Popen(
            [sys.executable, "-m", "service", command], cwd=ROOT, env=full_env, stdout=log, stderr=log
        )


async def test_the_worker_is_ready_reloads_on_sighup_and_stops_on_sigterm(
    own_database: str, tmp_path: Path, notify_socket: socket.socket
) -> None:
    proc = _start("worker", own_database, tmp_path, notify_socket)
    try:
        assert await _next_message(notify_socket, 120) == "READY=1"
        log = tmp_path / "worker.log"
        assert " running" in log.read_text()
        reloads_before = log.read_text().count("inventory ")
        proc.send_signal(signal.SIGHUP)
        for _ in range(100):
            if log.read_text().count("inventory ") > reloads_before:
                break
            await asyncio.sleep(0.1)
        assert log.read_text().count("inventory ") == reloads_before + 1, log.read_text()[-2000:]
        assert proc.poll() is None  # SIGHUP did not end it
        proc.send_signal(signal.SIGTERM)
        assert await _next_message(notify_socket, 30) == "STOPPING=1"
        assert await asyncio.to_thread(proc.wait, 60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


async def test_the_api_is_ready_only_when_its_port_answers(
    own_database: str, tmp_path: Path, notify_socket: socket.socket
) -> None:
    port = free_port()
    proc = _start("serve", own_database, tmp_path, notify_socket, DBVEND_LISTEN=f"127.0.0.1:{port}")
    try:
        assert await _next_message(notify_socket, 120) == "READY=1"
        # At READY=1, not a moment later: the first request must be answered.
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"http://127.0.0.1:{port}/api/v1/openapi.json") as response,
        ):
            assert response.status == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.to_thread(proc.wait, 60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
