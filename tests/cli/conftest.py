"""The CLI as a real process (python -m service.cli) against the session's service. The
service runs in this process's event loop, so the CLI runs through asyncio subprocesses:
a blocking subprocess.run would stop the server it talks to."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import ROOT, Api

CLI_TIMEOUT = 180  # seconds for one command, waits included


@dataclass
class Result:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


class Cli:
    """One user's CLI: its own config directory (XDG_CONFIG_HOME) and the service's URL."""

    def __init__(self, url: str, home: Path, username: str, password: str) -> None:
        self.url = url
        self.home = home
        self.username = username
        self.password = password

    @property
    def config_file(self) -> Path:
        return self.home / "dbvend" / "config.json"

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("DBVEND_")}
        return {
            **env,
            "PYTHONPATH": str(ROOT),
            "XDG_CONFIG_HOME": str(self.home),
            "DBVEND_URL": self.url,
            **extra,
        }

    async def spawn(self, *args: str, **extra_env: str) -> asyncio.subprocess.Process:
        return await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "service.cli",
            *args,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=self.env(**extra_env),
            cwd=self.home,
        )

    async def __call__(self, *args: str, stdin: str = "", **extra_env: str) -> Result:
        proc = await self.spawn(*args, **extra_env)
        try:
            out, err = await asyncio.wait_for(proc.communicate(stdin.encode()), CLI_TIMEOUT)
        except TimeoutError:
            proc.kill()
            await proc.wait()
            raise
        assert proc.returncode is not None
        result = Result(proc.returncode, out.decode(), err.decode())
        assert "Traceback" not in result.err, result.err
        return result

    async def ok(self, *args: str, stdin: str = "") -> Result:
        result = await self(*args, stdin=stdin)
        assert result.code == 0, (args, result)
        return result

    async def login(self) -> Result:
        return await self.ok("login", "--user", self.username, "--password-stdin", stdin=self.password + "\n")


@pytest.fixture(scope="session")
def service_url(service: Api) -> str:
    return str(service.client.make_url("/")).rstrip("/")


@pytest.fixture(scope="session")
def new_cli(
    service: Api, admin_token: str, service_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Any:
    """A fresh user (through the admin API) with a CLI of its own, not logged in yet."""

    async def make(prefix: str = "cli") -> Cli:
        username = f"{prefix}-{secrets.token_hex(3)}"
        password = secrets.token_urlsafe(16)
        status, body = await service.call(
            "POST", "/users", admin_token, json={"username": username, "password": password}
        )
        assert status == 201, body
        return Cli(service_url, tmp_path_factory.mktemp(username), username, password)

    return make


@pytest.fixture(scope="module")
async def alice(new_cli: Any) -> Cli:
    cli: Cli = await new_cli("alice")
    await cli.login()
    return cli
