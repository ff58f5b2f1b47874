"""DBVEND_BACKUP_HOST / DBVEND_BACKUP_HOST_DIR: read with safe defaults; a value that is not
a host name or a plain absolute directory stops the start, naming the setting."""

from __future__ import annotations

from pathlib import Path

import pytest

from service.config import ConfigError, Settings, load_settings
from tests.helpers import write_inventory


def _settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **env: str) -> Settings:
    monkeypatch.setenv("DATABASE_URL", "postgresql://nobody@127.0.0.1:1/none")
    monkeypatch.setenv("DBVEND_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("DBVEND_INVENTORY", str(write_inventory(tmp_path / "inventory")))
    for key in ("DBVEND_BACKUP_HOST", "DBVEND_BACKUP_HOST_DIR"):
        monkeypatch.delenv(key, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return load_settings()


def test_defaults_and_values(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = _settings(tmp_path, monkeypatch)
    assert (settings.backup_host, settings.backup_host_dir) == (None, "/var/lib/dbvend-backups")
    settings = _settings(
        tmp_path, monkeypatch, DBVEND_BACKUP_HOST="store-1.example", DBVEND_BACKUP_HOST_DIR="/srv/bk/"
    )
    assert (settings.backup_host, settings.backup_host_dir) == ("store-1.example", "/srv/bk")


@pytest.mark.parametrize("raw", ["h 2", "-h2", "h2;rm", "x" * 64, "h2\nh3"])
def test_a_bad_host_name_stops_the_start(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, raw: str) -> None:
    with pytest.raises(ConfigError, match="DBVEND_BACKUP_HOST "):
        _settings(tmp_path, monkeypatch, DBVEND_BACKUP_HOST=raw)


@pytest.mark.parametrize(
    "raw",
    ["relative/dir", "/", "/srv/../etc", "/srv/./x", "/srv/a b", "/srv/$(id)", "/a" * 600],
)
def test_a_bad_directory_stops_the_start(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, raw: str) -> None:
    with pytest.raises(ConfigError, match="DBVEND_BACKUP_HOST_DIR"):
        _settings(tmp_path, monkeypatch, DBVEND_BACKUP_HOST_DIR=raw)
