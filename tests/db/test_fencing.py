"""Lease fencing against the real PostgreSQL: once an operation has been claimed again,
every write carrying the earlier claim's lease matches nothing and changes nothing."""

from __future__ import annotations

import asyncpg
import pytest

from service.db import operations
from tests.db import records


@pytest.fixture
def db(scratch_db: asyncpg.Pool) -> asyncpg.Pool:
    """Hand-made rows go to a database of their own (tests/conftest.py, scratch_db)."""
    return scratch_db


async def _claim_only(db: asyncpg.Pool, op_id: str, worker: str) -> operations.Operation:
    """Claim until this test's operation comes back (other tests' rows may be open too)."""
    for op in await operations.claim(db, worker, 30, 200):
        if op.id == op_id:
            return op
    raise AssertionError(f"{op_id} was not claimed")


async def test_a_reclaimed_operation_refuses_the_first_workers_writes(db: asyncpg.Pool) -> None:
    owner, host = await records.user(db), await records.host(db)
    iid = await records.instance(db, owner, host, status="provisioning")
    op_id = await records.operation(db, iid)

    first = await _claim_only(db, op_id, "worker-a")
    assert first.lease_generation == 1
    # A's lease runs out (it was paused); B claims the operation again.
    await db.execute(
        "UPDATE operations SET lease_expires_at = now() - interval '1 second' WHERE id = $1", op_id
    )
    second = await _claim_only(db, op_id, "worker-b")
    assert second.lease_generation == 2
    assert second.lease_owner == "worker-b"

    # Every write with A's lease is refused, renewal included.
    assert await operations.renew(db, [first.lease], 30) == set()
    assert not await operations.finish(db, first.lease, "failed", error="late")
    assert not await operations.retry_later(db, first.lease, 0, "late")
    row = await db.fetchrow(
        "SELECT status, lease_owner, lease_generation, error FROM operations WHERE id = $1", op_id
    )
    assert dict(row) == {"status": "running", "lease_owner": "worker-b", "lease_generation": 2, "error": None}

    # The same process claiming twice is fenced too: the generation, not only the owner.
    stale_same_owner = operations.Lease(op_id, "worker-b", 1)
    assert not await operations.finish(db, stale_same_owner, "failed", error="late")

    # B's lease holds and B's result is recorded, once.
    assert await operations.renew(db, [second.lease], 30) == {second.lease}
    assert await operations.finish(db, second.lease, "succeeded", facts={"container_id": "b"})
    assert not await operations.finish(db, second.lease, "failed", error="twice")
    row = await db.fetchrow("SELECT status, facts, lease_owner FROM operations WHERE id = $1", op_id)
    assert dict(row) == {"status": "succeeded", "facts": {"container_id": "b"}, "lease_owner": None}


async def test_the_claiming_worker_stays_recorded_after_the_end(db: asyncpg.Pool) -> None:
    """lease_owner is cleared when an operation ends; `worker` keeps who ran it last."""
    owner, host = await records.user(db), await records.host(db)
    op_id = await records.operation(db, await records.instance(db, owner, host, status="provisioning"))
    assert await db.fetchval("SELECT worker FROM operations WHERE id = $1", op_id) is None
    first = await _claim_only(db, op_id, "worker-a")
    assert first.worker == "worker-a"
    await db.execute(
        "UPDATE operations SET lease_expires_at = now() - interval '1 second' WHERE id = $1", op_id
    )
    second = await _claim_only(db, op_id, "worker-b")
    assert await operations.finish(db, second.lease, "succeeded", facts={})
    row = await db.fetchrow("SELECT lease_owner, worker, attempts FROM operations WHERE id = $1", op_id)
    assert dict(row) == {"lease_owner": None, "worker": "worker-b", "attempts": 2}
