"""The CLI on a real MySQL (MariaDB) instance: create --wait, then `dbvend connect` runs the
mariadb client, which gets the password from a pipe (--defaults-extra-file=/dev/fd/N):
not in its argv, not in its environment, not in a file."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pymysql
import pytest

from tests.cli.conftest import Cli

pytestmark = pytest.mark.timeout(300)


async def _exec_of(pid: int, program: str) -> list[str]:
    for _ in range(200):
        raw = await asyncio.to_thread(Path(f"/proc/{pid}/cmdline").read_bytes)
        argv = [a.decode() for a in raw.split(b"\0") if a]
        if argv and Path(argv[0]).name == program:
            return argv
        await asyncio.sleep(0.05)
    raise AssertionError(f"{pid} never became {program}")


async def test_create_connect_and_delete_mysql(alice: Cli) -> None:
    created = await alice.ok("create", "mysql", "--name", "orders", "--wait", "-o", "json")
    inst: dict[str, Any] = created.json()
    assert inst["status"] == "running"
    conn = inst["connection"]
    password = conn["password"]

    proc = await alice.spawn("connect", "orders")
    argv = await _exec_of(proc.pid, "mariadb")
    environ = await asyncio.to_thread(Path(f"/proc/{proc.pid}/environ").read_bytes)
    assert not any(password in a for a in argv), argv
    assert argv[1].startswith("--defaults-extra-file=/dev/fd/")
    assert argv[-1] == conn["database"]
    assert password.encode() not in environ
    sql = b"CREATE TABLE t (v varchar(10)); INSERT INTO t VALUES ('via-cli'); SELECT CURRENT_USER();\n"
    out, err = await asyncio.wait_for(proc.communicate(sql), 30)
    assert proc.returncode == 0, err
    assert f"{conn['username']}@" in out.decode()

    def read() -> Any:
        with (
            pymysql.connect(
                host=conn["host"],
                port=conn["port"],
                user=conn["username"],
                password=password,
                database=conn["database"],
                connect_timeout=5,
            ) as db,
            db.cursor() as cur,
        ):
            cur.execute("SELECT v FROM t")
            return cur.fetchall()

    assert await asyncio.to_thread(read) == (("via-cli",),)

    await alice.ok("delete", "orders", "--yes")
    assert (await alice.ok("list", "--engine", "mysql", "-o", "json")).json() == []
