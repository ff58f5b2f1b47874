"""The systemd units in deploy/systemd: systemd-analyze verify accepts them (no error and no
warning, an unknown key included) with the paths of this checkout, and they carry the
hardening and the readiness docs/deployment.md promises. Skipped without systemd-analyze."""

from __future__ import annotations

import configparser
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import ROOT

UNITS = ROOT / "deploy" / "systemd"
ANALYZE = shutil.which("systemd-analyze")


def _render(tmp_path: Path) -> Path:
    """The units as installed, but pointing at this checkout, its venv and a scratch env file."""
    out = tmp_path / "units"
    out.mkdir()
    env_file = tmp_path / "dbvend.env"
    env_file.write_text((ROOT / "deploy" / "dbvend.env.example").read_text())
    for unit in UNITS.iterdir():
        text = unit.read_text()
        text = text.replace("/opt/dbvend/.venv/bin/python", sys.executable)
        text = text.replace("/opt/dbvend", str(ROOT)).replace("/etc/dbvend/dbvend.env", str(env_file))
        (out / unit.name).write_text(text)
    return out


@pytest.mark.skipif(ANALYZE is None, reason="systemd-analyze is not installed")
def test_systemd_analyze_verifies_every_unit(tmp_path: Path) -> None:
    units = _render(tmp_path)
    assert ANALYZE is not None
    result = subprocess.run(
        [
            ANALYZE,
            "verify",
            "--man=no",
            str(units / "dbvend.target"),
            str(units / "dbvend-migrate.service"),
            # Instances of the templates (systemd finds the template beside them).
            str(units / "dbvend-api@8081.service"),
            str(units / "dbvend-worker@1.service"),
            str(units / "dbvend-worker@2.service"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    # Unknown keys and unparsable values are only warnings: none may be printed.
    assert result.stderr.strip() == "", result.stderr


def _service_section(name: str) -> dict[str, list[str]]:
    parser = configparser.ConfigParser(strict=False, interpolation=None, delimiters=("=",))
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    values: dict[str, list[str]] = {}
    # systemd allows repeated keys; configparser keeps the last, enough for these checks.
    parser.read_string((UNITS / name).read_text())
    for key, value in parser["Service"].items():
        values.setdefault(key, []).append(value)
    return values


@pytest.mark.parametrize("name", ["dbvend-api@.service", "dbvend-worker@.service", "dbvend-migrate.service"])
def test_every_service_is_hardened(name: str) -> None:
    service = _service_section(name)
    expected = {
        "User": "dbvend",
        "ProtectSystem": "strict",
        "ReadWritePaths": "/var/lib/dbvend",
        "NoNewPrivileges": "true",
        "PrivateTmp": "true",
        "ProtectHome": "true",
        "EnvironmentFile": "/etc/dbvend/dbvend.env",
    }
    assert {k: service.get(k, [""])[-1] for k in expected} == expected


@pytest.mark.parametrize("name", ["dbvend-api@.service", "dbvend-worker@.service"])
def test_long_running_units_say_when_they_are_ready_and_restart(name: str) -> None:
    service = _service_section(name)
    # Type=notify is true: both processes send READY=1 (tests/deploy/test_worker_process.py
    # checks the worker's; service/__main__.py sends the API's once the port listens).
    assert service["Type"] == ["notify"]
    assert service["Restart"] == ["on-failure"]
    assert service["ExecReload"] == ["/bin/kill -HUP $MAINPID"]
    assert "ExecStart" in service
