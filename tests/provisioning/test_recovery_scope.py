"""Taking over a dead local worker's leases: only a worker of this host *and* this PID
namespace can be judged by its process id. A process of another namespace (a container
with the host's network has the host's name but its own process ids) keeps its leases."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import asyncpg
import pytest

from service.config import local_scope
from service.operations.recovery import expire_dead_local_leases
from tests.db import records


@pytest.fixture
def db(scratch_db: asyncpg.Pool) -> asyncpg.Pool:
    return scratch_db


def _dead_pid() -> int:
    """A process id nothing uses now (the highest ones are rarely taken)."""
    pid = int(Path("/proc/sys/kernel/pid_max").read_text()) - 1
    while pid > 1:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return pid
        except PermissionError:
            pass
        pid -= 1
    raise AssertionError("no free process id")


def test_the_scope_names_this_host_and_its_pid_namespace() -> None:
    inode = os.readlink("/proc/self/ns/pid").partition("[")[2].rstrip("]")
    assert local_scope() == f"{socket.gethostname()}/{inode}"
    assert ":" not in local_scope()  # the worker id is scope:pid:token


async def _running(db: asyncpg.Pool, owner: str) -> str:
    user, host = await records.user(db), await records.host(db)
    op_id = await records.operation(db, await records.instance(db, user, host, status="provisioning"))
    await db.execute(
        "UPDATE operations SET status = 'running', lease_owner = $2,"
        " lease_expires_at = now() + interval '1 hour' WHERE id = $1",
        op_id,
        owner,
    )
    return op_id


async def test_only_dead_workers_of_this_namespace_lose_their_leases(db: asyncpg.Pool) -> None:
    dead = _dead_pid()
    mine_dead = await _running(db, f"{local_scope()}:{dead}:aaaaaa")
    mine_alive = await _running(db, f"{local_scope()}:{os.getpid()}:bbbbbb")
    # Same host name, another PID namespace: its pid says nothing here.
    other_namespace = await _running(db, f"{socket.gethostname()}/1:{dead}:cccccc")
    # The id format before the namespace was part of it: never judged by pid either.
    bare_host = await _running(db, f"{socket.gethostname()}:{dead}:dddddd")

    await expire_dead_local_leases(db)
    expired = {
        r["id"]
        for r in await db.fetch(
            "SELECT id FROM operations WHERE id = ANY($1) AND lease_expires_at <= now()",
            [mine_dead, mine_alive, other_namespace, bare_host],
        )
    }
    assert expired == {mine_dead}
