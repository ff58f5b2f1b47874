"""The CLI end to end on one real Redis instance, in the order a user goes: log in, create
with --wait, read it back, connect (redis-cli, a real one), stop/start, resize, rotate,
back up and restore, and delete last. Another user sees none of it; errors come out as
the field and the reason, with a non-zero exit code and no traceback."""

from __future__ import annotations

import asyncio
import stat
from pathlib import Path
from typing import Any

import pytest
import redis

from tests.cli.conftest import Cli
from tests.helpers import Api

pytestmark = pytest.mark.timeout(300)


def _redis(conn: dict[str, Any], password: str | None = None) -> redis.Redis:
    return redis.Redis(
        host=conn["host"],
        port=conn["port"],
        username=conn["username"],
        password=password or conn["password"],
        socket_timeout=5,
    )


@pytest.fixture(scope="module")
async def cache(alice: Cli) -> dict[str, Any]:
    """Created through the CLI and read back with show --output json."""
    created = await alice.ok("create", "redis", "--name", "cache", "--maxmemory", "64mb", "--wait")
    assert "running" in created.out
    assert "dbvend connect cache" in created.out
    assert "operation" in created.err
    assert "done in" in created.err
    shown = (await alice.ok("show", "cache", "--output", "json")).json()
    assert shown["status"] == "running"
    return dict(shown)


async def test_login_saves_a_token_only_its_owner_can_read(new_cli: Any, service: Api) -> None:
    cli: Cli = await new_cli("login")
    result = await cli.login()
    assert cli.username in result.out
    assert stat.S_IMODE(cli.config_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(cli.config_file.parent.stat().st_mode) == 0o700
    token = (await asyncio.to_thread(cli.config_file.read_text)).split('"token": "')[1].split('"')[0]
    assert token not in result.out + result.err
    status, me = await service.call("GET", "/me", token)
    assert status == 200
    assert me["username"] == cli.username

    await cli.ok("logout")
    assert "token" not in await asyncio.to_thread(cli.config_file.read_text)
    assert stat.S_IMODE(cli.config_file.stat().st_mode) == 0o600
    assert (await service.call("GET", "/me", token))[0] == 401  # revoked on the server
    refused = await cli("list")
    assert refused.code == 1
    assert "not logged in" in refused.err


async def test_wrong_password_is_refused(new_cli: Any) -> None:
    cli: Cli = await new_cli("wrong")
    result = await cli("login", "--user", cli.username, "--password-stdin", stdin="not-the-password\n")
    assert result.code == 1
    assert "HTTP 401" in result.err
    assert not cli.config_file.exists()


async def test_show_json_connects_with_a_real_client(cache: dict[str, Any]) -> None:
    client = _redis(cache["connection"])
    assert await asyncio.to_thread(client.ping)
    uri = cache["connection"]["uri"]
    assert uri.startswith("redis://")
    assert cache["connection"]["password"] in uri


async def test_show_by_id_and_uri(alice: Cli, cache: dict[str, Any]) -> None:
    by_id = (await alice.ok("show", cache["id"], "-o", "json")).json()
    assert by_id["id"] == cache["id"]
    uri = await alice.ok("show", "cache", "--uri")
    assert uri.out.strip() == cache["connection"]["uri"]
    table = await alice.ok("show", "cache")
    assert cache["connection"]["password"] in table.out
    assert "status    running" in table.out


async def test_list_table_and_json(alice: Cli, cache: dict[str, Any]) -> None:
    table = (await alice.ok("list")).out.splitlines()
    assert table[0].split() == ["ID", "NAME", "ENGINE", "STATUS", "ADDRESS", "MEMORY", "CREATED"]
    row = next(line for line in table if line.startswith(cache["id"]))
    assert row.split()[1:4] == ["cache", "redis", "running"]
    listed = (await alice.ok("-o", "json", "list")).json()
    assert [i["id"] for i in listed] == [cache["id"]]
    assert (await alice.ok("list", "--engine", "mysql", "-o", "json")).json() == []


async def _cmdline(pid: int, program: str) -> list[str]:
    """The process's argv once it has exec'd `program` (bounded wait)."""
    for _ in range(200):
        raw = await asyncio.to_thread(Path(f"/proc/{pid}/cmdline").read_bytes)
        argv = [a.decode() for a in raw.split(b"\0") if a]
        if argv and Path(argv[0]).name == program:
            return argv
        await asyncio.sleep(0.05)
    raise AssertionError(f"{pid} never became {program}: {argv}")


async def test_connect_runs_redis_cli_without_the_password_in_argv(alice: Cli, cache: dict[str, Any]) -> None:
    password = cache["connection"]["password"]
    proc = await alice.spawn("connect", "cache")
    argv = await _cmdline(proc.pid, "redis-cli")
    environ = (await asyncio.to_thread(Path(f"/proc/{proc.pid}/environ").read_bytes)).split(b"\0")
    assert not any(password in a for a in argv), argv
    assert f"REDISCLI_AUTH={password}".encode() in environ
    assert not any(e.startswith(b"DBVEND_TOKEN=") for e in environ)
    out, err = await asyncio.wait_for(proc.communicate(b"PING\nSET from-cli hello\nGET from-cli\n"), 30)
    assert proc.returncode == 0, err
    assert out.decode().split() == ["PONG", "OK", "hello"]
    assert await asyncio.to_thread(_redis(cache["connection"]).get, "from-cli") == b"hello"


async def test_stop_and_start(alice: Cli, cache: dict[str, Any]) -> None:
    stopped = (await alice.ok("stop", "cache", "-o", "json")).json()
    assert stopped["status"] == "stopped"
    with pytest.raises(redis.ConnectionError):
        await asyncio.to_thread(_redis(cache["connection"]).ping)
    again = await alice.ok("stop", "cache")
    assert "nothing to do" in again.err
    started = (await alice.ok("start", "cache", "-o", "json")).json()
    assert started["status"] == "running"
    assert await asyncio.to_thread(_redis(cache["connection"]).get, "from-cli") == b"hello"


async def test_resize_changes_maxmemory(alice: Cli, cache: dict[str, Any]) -> None:
    result = await alice.ok("resize", "cache", "--maxmemory", "96mb", "-o", "json")
    assert result.json()["settings"]["maxmemory"] == 96 * 1024 * 1024
    assert "applied live: maxmemory" in result.err
    # The user cannot read CONFIG; the server's memory limit shows in INFO.
    info = await asyncio.to_thread(_redis(cache["connection"]).info, "memory")
    assert info["maxmemory"] == 96 * 1024 * 1024


async def test_rotate_gives_a_new_password_and_the_old_one_stops(alice: Cli, cache: dict[str, Any]) -> None:
    old = cache["connection"]["password"]
    rotated = (await alice.ok("rotate", "cache", "-o", "json")).json()
    new = rotated["connection"]["password"]
    assert new != old
    assert await asyncio.to_thread(_redis(rotated["connection"]).ping)
    with pytest.raises(redis.AuthenticationError):
        await asyncio.to_thread(_redis(cache["connection"], old).ping)
    cache["connection"] = rotated["connection"]


async def test_backup_list_and_restore(alice: Cli, cache: dict[str, Any]) -> None:
    made = (await alice.ok("backup", "cache", "--wait", "-o", "json")).json()
    assert made["status"] == "completed"
    assert made["format"] == "rdb"
    listed = await alice.ok("backups", "cache")
    assert any(line.split()[:3] == [made["id"], "completed", "rdb"] for line in listed.out.splitlines())
    await asyncio.to_thread(_redis(cache["connection"]).set, "from-cli", "changed")
    restored = (await alice.ok("restore", "cache", "--backup", made["id"], "-o", "json")).json()
    assert restored["status"] == "running"
    assert await asyncio.to_thread(_redis(cache["connection"]).get, "from-cli") == b"hello"


async def test_a_422_names_the_field(alice: Cli) -> None:
    result = await alice("create", "redis", "--maxmemory", "1kb")
    assert result.code == 1
    assert "HTTP 422" in result.err
    assert "settings.maxmemory:" in result.err
    unknown = await alice("create", "redis", "--set", "no_such_setting=1")
    assert unknown.code == 1
    assert "settings.no_such_setting" in unknown.err


async def test_a_404_is_said_plainly(alice: Cli, cache: dict[str, Any]) -> None:
    missing = await alice("show", "no-such-instance")
    assert missing.code == 1
    assert "no instance with the id or name 'no-such-instance'" in missing.err
    backup = await alice("restore", "cache", "--backup", "b-000000000")
    assert backup.code == 1
    assert "backup not found (HTTP 404 not_found)" in backup.err


async def test_bad_usage_and_network_errors_are_short(alice: Cli, cache: dict[str, Any]) -> None:
    bad = await alice("show", "../users")
    assert bad.code == 2
    assert "neither an instance id" in bad.err
    down = await alice("--url", "http://127.0.0.1:9", "list", DBVEND_TOKEN="dbv_whatever")
    assert down.code == 3
    assert "cannot reach dbvend at http://127.0.0.1:9" in down.err
    # The saved token is for the service's URL only: it is not sent anywhere else.
    elsewhere = await alice("--url", "http://127.0.0.1:9", "list")
    assert elsewhere.code == 1
    assert "the saved login is for" in elsewhere.err


async def test_another_user_sees_none_of_it(new_cli: Any, cache: dict[str, Any]) -> None:
    bob: Cli = await new_cli("bob")
    await bob.login()
    assert (await bob.ok("list", "-o", "json")).json() == []
    for ref in (cache["id"], "cache"):
        shown = await bob("show", ref)
        assert shown.code == 1
        assert "no instance" in shown.err
        assert cache["connection"]["password"] not in shown.out + shown.err
    stop = await bob("stop", cache["id"])
    assert stop.code == 1


async def test_delete_last(alice: Cli, cache: dict[str, Any]) -> None:
    refused = await alice("delete", "cache")  # no --yes and stdin says nothing: nothing happens
    assert refused.code == 1
    assert "Aborted" in refused.err
    assert (await alice.ok("show", "cache", "-o", "json")).json()["status"] == "running"
    deleted = await alice.ok("delete", "cache", "--yes", "-o", "json")
    assert deleted.json() == {
        "id": cache["id"],
        "operation_id": deleted.json()["operation_id"],
        "deleted": True,
    }
    assert (await alice.ok("list", "-o", "json")).json() == []
    with pytest.raises(redis.ConnectionError):
        await asyncio.to_thread(_redis(cache["connection"]).ping)
