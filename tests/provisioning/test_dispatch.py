"""The worker's dispatch against the real PostgreSQL: a worker claims only the kinds it has
a module for, hands each kind its share of a batch, ends an operation of a kind it has no
module for with a clear error, and a kind that crashes does not cut the others short.

The kinds here are small stand-ins registered through the same interface as create,
delete and repair (they record what they were given); no Ansible runs."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from pathlib import Path

import asyncpg
import pytest
from cryptography.fernet import Fernet

from service.config import Settings
from service.crypto import SecretBox
from service.db import operations
from service.db.operations import Operation
from service.operations.kinds import KINDS, OperationKind, RunContext
from service.operations.runner import PlaybookRunner
from service.operations.worker import Worker
from tests.db import records
from tests.helpers import wait_until


@pytest.fixture
def db(scratch_db: asyncpg.Pool) -> asyncpg.Pool:
    """Hand-made rows go to a database of their own (tests/conftest.py, scratch_db)."""
    return scratch_db


class Recording:
    """A kind that notes what it was handed, after a pause (so it ends last)."""

    def __init__(self, name: str, pause: float = 0.0) -> None:
        self.name = name
        self.pause = pause
        self.got: list[Operation] = []
        self.finished = False

    async def run(self, ctx: RunContext, ops: list[Operation]) -> None:
        self.got.extend(ops)
        await asyncio.sleep(self.pause)
        self.finished = True


class Crashing:
    def __init__(self, name: str) -> None:
        self.name = name

    async def run(self, ctx: RunContext, ops: list[Operation]) -> None:
        raise RuntimeError("a bug in this kind")


def _worker(db: asyncpg.Pool, tmp_path: Path, kinds: Mapping[str, OperationKind]) -> Worker:
    settings = Settings(
        environment="development",
        listen_host="127.0.0.1",
        listen_port=0,
        state_dir=tmp_path,
        database_url="unused",
        inventory=tmp_path / "hosts.yml",
        secret_keys=(Fernet.generate_key().decode(),),
        admin_password=None,
        token_ttl_seconds=3600,
        run_worker=True,
        worker_id=f"test-dispatch-{tmp_path.name}",
        worker_slots=1,
        batch_size=200,
        batch_window=0.05,
        lease_seconds=30,
        max_attempts=3,
        max_wait_seconds=10,
        port_block_seconds=60,
        ready_timeout=5.0,
        health_interval=15.0,
    )
    runner = PlaybookRunner(settings.project_dir, tmp_path / "runs")
    return Worker(db, settings, SecretBox(settings.secret_keys), runner, {}, kinds=kinds)


async def _claim(db: asyncpg.Pool, worker: str, op_ids: set[str], kinds: list[str]) -> list[Operation]:
    """Claim until these operations come back (other tests' rows may be open too)."""
    ops = [op for op in await operations.claim(db, worker, 30, 200, kinds=kinds) if op.id in op_ids]
    assert {op.id for op in ops} == op_ids, ops
    return ops


def test_every_kind_is_registered_under_its_name() -> None:
    assert set(KINDS) == {
        "create",
        "delete",
        "repair",
        "stop",
        "start",
        "restart",
        "reconfigure",
        "rotate",
        "backup",
        "restore",
        "converge",
        "bind",
        "unbind",
        "rotate-certificate",
    }
    for name, kind in KINDS.items():
        assert kind.name == name


async def test_a_worker_claims_only_the_kinds_it_runs(db: asyncpg.Pool) -> None:
    owner, host = await records.user(db), await records.host(db)
    iid = await records.instance(db, owner, host)
    repair = await records.operation(db, iid, kind="repair")
    delete = await records.operation(db, iid, kind="delete")  # queued behind the repair

    claimed = {op.id for op in await operations.claim(db, "old-worker", 30, 200, kinds=["create", "delete"])}
    assert repair not in claimed
    # The instance's later delete still waits for its repair: one at a time, oldest first.
    assert delete not in claimed
    row = await db.fetchrow("SELECT status, attempts, lease_generation FROM operations WHERE id = $1", repair)
    assert dict(row) == {"status": "pending", "attempts": 0, "lease_generation": 0}

    (op,) = await _claim(db, "new-worker", {repair}, ["repair"])
    assert op.kind == "repair"
    assert op.lease_generation == 1


async def test_the_claim_loop_takes_only_registered_kinds(db: asyncpg.Pool, tmp_path: Path) -> None:
    owner, host = await records.user(db), await records.host(db)
    for_repair = await records.instance(db, owner, host)
    for_delete = await records.instance(db, owner, host)
    repair = await records.operation(db, for_repair, kind="repair")
    delete = await records.operation(db, for_delete, kind="delete")
    kind = Recording("repair")
    worker = _worker(db, tmp_path, {"repair": kind})
    await worker.start()
    try:
        assert await wait_until(lambda: _got(kind, repair), 60)
    finally:
        await worker.stop()
    assert delete not in {op.id for op in kind.got}
    status = await db.fetchval("SELECT status FROM operations WHERE id = $1", delete)
    assert status == "pending"


async def _got(kind: Recording, op_id: str) -> bool:
    return op_id in {op.id for op in kind.got}


async def test_a_kind_without_a_module_is_failed_clearly_and_the_rest_runs(
    db: asyncpg.Pool, tmp_path: Path
) -> None:
    owner, host = await records.user(db), await records.host(db)
    creating = await records.instance(db, owner, host, status="provisioning")
    deleting = await records.instance(db, owner, host, status="deleting")
    create = await records.operation(db, creating, kind="create")
    delete = await records.operation(db, deleting, kind="delete")
    ops = await _claim(db, "w-dispatch", {create, delete}, ["create", "delete"])
    # This worker's registry has lost "delete" since the claim (e.g. a kind withdrawn).
    kind = Recording("create")
    worker = _worker(db, tmp_path, {"create": kind})

    await worker.dispatch(ops)

    assert [op.id for op in kind.got] == [create]
    row = await db.fetchrow("SELECT status, error, lease_owner FROM operations WHERE id = $1", delete)
    assert row["status"] == "failed"
    assert row["error"] == "unknown operation kind 'delete'; this worker runs: create"
    assert row["lease_owner"] is None
    # The instance itself is left as it was: nothing was done to it.
    assert await db.fetchval("SELECT status FROM instances WHERE id = $1", deleting) == "deleting"
    assert await db.fetchval("SELECT status FROM operations WHERE id = $1", create) == "running"


async def test_a_kind_that_crashes_does_not_cut_the_others_short(db: asyncpg.Pool, tmp_path: Path) -> None:
    owner, host = await records.user(db), await records.host(db)
    creating = await records.instance(db, owner, host, status="provisioning")
    deleting = await records.instance(db, owner, host, status="deleting")
    create = await records.operation(db, creating, kind="create")
    delete = await records.operation(db, deleting, kind="delete")
    ops = await _claim(db, "w-crash", {create, delete}, ["create", "delete"])
    slow = Recording("delete", pause=0.5)
    worker = _worker(db, tmp_path, {"create": Crashing("create"), "delete": slow})

    await worker.dispatch(ops)  # does not raise

    # The batch ends (and gives back its slot and leases) only once every kind has ended.
    assert slow.finished
    assert [op.id for op in slow.got] == [delete]
    # The crashed kind's operation is left to its lease: claimed again once that runs out.
    assert await db.fetchval("SELECT status FROM operations WHERE id = $1", create) == "running"
