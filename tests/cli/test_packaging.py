"""`dbvend` is a declared console script, and the import contract that keeps the CLI off the
server's code names every other module of service/ (a new one would otherwise slip past)."""

from __future__ import annotations

import subprocess
import sys
import tomllib

from service.cli.main import COMMANDS, cli, main
from tests.helpers import ROOT

PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_the_console_script_is_declared() -> None:
    assert PYPROJECT["project"]["scripts"]["dbvend"] == "service.cli.main:main"
    assert callable(main)
    for dep in ("click", "httpx", "rich", "platformdirs"):
        assert any(d.startswith(dep + ">=") for d in PYPROJECT["project"]["dependencies"]), dep


def test_the_contract_forbids_every_server_module() -> None:
    contract = next(
        c
        for c in PYPROJECT["tool"]["importlinter"]["contracts"]
        if c.get("source_modules") == ["service.cli"]
    )
    server_modules = {
        f"service.{p.stem if p.is_file() else p.name}"
        for p in (ROOT / "service").iterdir()
        if (p.suffix == ".py" and p.stem != "__init__") or (p.is_dir() and (p / "__init__.py").exists())
    } - {"service.cli"}
    assert server_modules <= set(contract["forbidden_modules"]), server_modules - set(
        contract["forbidden_modules"]
    )
    for library in ("aiohttp", "asyncpg", "ansible_runner", "pydantic"):
        assert library in contract["forbidden_modules"]


def test_help_lists_every_command() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "service.cli", "--help"],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )
    for command in COMMANDS:
        assert f"  {command.name} " in done.stdout
    assert set(cli.commands) == {
        "login", "logout", "create", "list", "show", "connect", "stop", "start", "restart",
        "resize", "rotate", "backup", "backups", "restore", "delete",
    }  # fmt: skip
