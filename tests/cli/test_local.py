"""The CLI's parts that need no server: the config file's modes, the values it sends, the
URLs it accepts, and what `connect` would exec (no password in argv)."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import click
import pytest

from service.cli import config, connect
from service.cli.client import is_plain_http_remote, normalize_url
from service.cli.errors import CliError
from service.cli.values import parse_megabytes, parse_set
from tests.helpers import ROOT


def test_config_is_0600_in_a_0700_dir_even_with_umask_0(tmp_path: Path) -> None:
    # umask is process-wide: changed in a child, not in the test process.
    code = (
        "import os; os.umask(0)\n"
        "from service.cli import config\n"
        "config.save(config.StoredConfig(url='http://x', token='dbv_secret'))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT), "XDG_CONFIG_HOME": str(tmp_path)}
    subprocess.run([sys.executable, "-c", code], env=env, check=True)
    path = tmp_path / "dbvend" / "config.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert json.loads(path.read_text()) == {"url": "http://x", "token": "dbv_secret"}
    assert [p.name for p in path.parent.iterdir()] == ["config.json"]  # no temporary file left


def test_a_widened_config_is_closed_again_with_a_warning(tmp_path: Path) -> None:
    path = tmp_path / "dbvend" / "config.json"
    config.save(config.StoredConfig(url="http://x", token="t"), path)
    path.chmod(0o644)
    stored, warning = config.load(path)
    assert stored.token == "t"
    assert warning is not None
    assert "readable by other users" in warning
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_broken_config_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text("{not json")
    path.chmod(0o600)
    with pytest.raises(config.ConfigProblem, match="not valid JSON"):
        config.load(path)


def test_set_values_get_json_types() -> None:
    assert parse_set(None, None, ("maxclients=100", "appendonly=true", "maxmemory=256mb", "x=")) == {
        "maxclients": 100,
        "appendonly": True,
        "maxmemory": "256mb",
        "x": "",
    }
    for bad in ("novalue", "=1", "Bad=1", "a b=1"):
        with pytest.raises(click.BadParameter):
            parse_set(None, None, (bad,))


def test_megabytes() -> None:
    assert parse_megabytes(None, None, "512") == 512
    assert parse_megabytes(None, None, "512mb") == 512
    assert parse_megabytes(None, None, "1gb") == 1024
    for bad in ("1.5gb", "-1", "1tb", "1gb\n2"):
        with pytest.raises(click.BadParameter):
            parse_megabytes(None, None, bad)


@pytest.mark.parametrize(
    "url",
    ["ftp://h", "http://", "http://u:p@h", "http://h/?x=1", "http://h/#f", "h:8080", "http://h:port"],
)
def test_urls_refused(url: str) -> None:
    with pytest.raises(CliError):
        normalize_url(url)


def test_urls_kept() -> None:
    assert normalize_url("https://db.example.com/dbvend/") == "https://db.example.com/dbvend"
    assert is_plain_http_remote("http://db.example.com")
    assert not is_plain_http_remote("http://127.0.0.1:8080")
    assert not is_plain_http_remote("https://db.example.com")


TRICKY = 'p"w\\d'  # a quote and a backslash: what an option file has to escape


def _instance(engine: str, password: str = TRICKY, status: str = "running") -> dict[str, Any]:
    conn = {"host": "127.0.0.1", "port": 20001, "username": "u_x", "password": password, "database": "orders"}
    return {"id": "i-x", "engine": engine, "status": status, "connection": conn}


def test_redis_cli_gets_the_password_from_its_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DBVEND_TOKEN", "dbv_secret")
    launch = connect.plan(_instance("redis", "s3cret"))
    assert Path(launch.argv[0]).name == "redis-cli"
    assert "s3cret" not in " ".join(launch.argv)
    assert launch.env["REDISCLI_AUTH"] == "s3cret"
    assert "DBVEND_TOKEN" not in launch.env


def test_mariadb_gets_the_password_from_an_option_pipe() -> None:
    launch = connect.plan(_instance("mysql"))
    assert Path(launch.argv[0]).name in ("mariadb", "mysql")
    assert launch.argv[1] == f"--defaults-extra-file=/dev/fd/{connect.FD}"
    assert 'p"w\\d' not in " ".join(launch.argv)
    assert "MYSQL_PWD" not in launch.env
    assert launch.option_text is not None
    assert 'password="p\\"w\\\\d"' in launch.option_text
    # The client reads the text back as the password it was (its own parser, not ours).
    read_end, write_end = os.pipe()
    os.write(write_end, launch.option_text.encode())
    os.close(write_end)
    printed = subprocess.run(
        [launch.argv[0], f"--defaults-extra-file=/dev/fd/{read_end}", "--print-defaults"],
        pass_fds=(read_end,),
        capture_output=True,
        text=True,
        check=True,
    )
    os.close(read_end)
    assert '--password=p"w\\d ' in printed.stdout


def test_connect_refuses_what_it_cannot_pass_on() -> None:
    with pytest.raises(CliError, match="control characters"):
        connect.plan(_instance("mysql", "a\nb"))
    with pytest.raises(CliError, match="stopped, not running"):
        connect.plan(_instance("redis", status="stopped"))
