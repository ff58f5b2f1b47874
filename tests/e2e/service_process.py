"""The service as a real process (python -m service serve), for restarts and kill -9."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import aiohttp

from tests.helpers import ADMIN_PASSWORD, ROOT, service_env


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(c) for c in text.split()]


def process_tree(pid: int) -> list[int]:
    """The process and all its descendants (ansible-runner starts ansible-playbook in a
    session of its own, so a process group would miss it)."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(_children(current))
    return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ServiceProcess:
    def __init__(
        self,
        database_url: str,
        state_dir: Path,
        inventory: Path,
        log_path: Path,
        *,
        root: Path = ROOT,
        **extra_env: str,
    ) -> None:
        # root: the checkout the service runs from (a benchmark's "before" runs an older one).
        self.root = root
        self.port = free_port()
        self.env = {
            **os.environ,
            **service_env(database_url, state_dir, inventory),
            "DBVEND_LISTEN": f"127.0.0.1:{self.port}",
            **extra_env,
        }
        if root != ROOT:
            self.env["PYTHONPATH"] = str(root)
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None
        self.base = f"http://127.0.0.1:{self.port}/api/v1"
        self.token = ""

    async def start(self) -> None:
        with self.log_path.open("ab") as log:  # the child keeps its own descriptor
            self.proc = subprocess.Popen(  # noqa: ASYNC220 - Popen returns at once; the wait is async below
                [sys.executable, "-m", "service", "serve"],
                cwd=self.root,
                env=self.env,
                stdout=log,
                stderr=log,
            )
        for _ in range(480):  # 2 minutes: a loaded machine migrates a fresh database slowly
            try:
                async with aiohttp.ClientSession() as s, s.get(self.base + "/openapi.json") as r:
                    if r.status == 200:
                        break
            except aiohttp.ClientError:
                pass
            if self.proc.poll() is not None:
                raise RuntimeError(f"service exited: {self.log_path.read_text()[-2000:]}")
            await asyncio.sleep(0.25)
        else:
            raise RuntimeError("service did not start")
        status, body = await self.call(
            "POST", "/auth/login", json={"username": "admin", "password": ADMIN_PASSWORD}
        )
        assert status == 200, body
        self.token = body["token"]

    async def call(self, method: str, path: str, **kw: Any) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        async with (
            aiohttp.ClientSession() as s,
            s.request(method, self.base + path, headers=headers, **kw) as r,
        ):
            body = await r.json() if r.content_type == "application/json" else await r.text()
            return r.status, body

    def pause(self) -> None:
        """SIGSTOP the service and everything it runs, as a frozen machine would be."""
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGSTOP)  # first, so it starts nothing new
        for pid in process_tree(self.proc.pid)[1:]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGSTOP)

    def resume(self) -> None:
        assert self.proc is not None
        for pid in reversed(process_tree(self.proc.pid)):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    async def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.to_thread(self.proc.wait, 60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
