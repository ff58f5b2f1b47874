"""The event hub against a real PostgreSQL: tenancy of the fan-out, the per-user limit, a
slow subscriber cut off at its queue's bound, and a LISTEN connection killed under it
(re-established, and the event committed meanwhile caught up from the outbox)."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import asyncpg
import pytest

from service.db.migrate import migrate
from service.db.pool import create_pool
from service.db.users import User
from service.events.hub import EventHub, Subscriber, TooManyStreams
from tests.db import records
from tests.helpers import create_database, drop_database


@pytest.fixture(scope="module")
async def database() -> AsyncIterator[tuple[str, asyncpg.Pool]]:
    url = await create_database()
    pool = await create_pool(url, min_size=1, max_size=4)
    async with pool.acquire() as conn:
        await migrate(conn)
    yield url, pool
    await pool.close()
    await drop_database(url)


def _user(uid: int, *, admin: bool = False) -> User:
    return User(id=uid, username=f"u{uid}", is_admin=admin, created_at=datetime.now(UTC))


async def _stop_succeeds(db: asyncpg.Pool, instance_id: str) -> None:
    op_id = f"op-{secrets.token_hex(6)}"
    await db.execute(
        "INSERT INTO operations (id, kind, instance_id) VALUES ($1, 'stop', $2)", op_id, instance_id
    )
    await db.execute("UPDATE operations SET status = 'succeeded' WHERE id = $1", op_id)


async def _next(sub: Subscriber, seconds: float = 15) -> object:
    return await asyncio.wait_for(sub.queue.get(), seconds)


async def test_fan_out_limit_and_reconnect(database: tuple[str, asyncpg.Pool]) -> None:
    url, db = database
    alice_id, bob_id = await records.user(db), await records.user(db)
    host = await records.host(db)
    alice_instance = await records.instance(db, alice_id, host)
    hub = EventHub(url, limit=2)
    await hub.start()
    try:
        await asyncio.wait_for(hub.listening.wait(), 15)
        alice, bob, admin = (
            hub.subscribe(_user(alice_id)),
            hub.subscribe(_user(bob_id)),
            hub.subscribe(_user(10**9, admin=True)),
        )
        hub.subscribe(_user(alice_id))
        with pytest.raises(TooManyStreams):
            hub.subscribe(_user(alice_id))

        await _stop_succeeds(db, alice_instance)
        got = await _next(alice)
        assert isinstance(got, dict)
        assert got["type"] == "instance.stopped"
        assert await _next(admin) == got
        await asyncio.sleep(1)
        assert bob.queue.empty()

        # The LISTEN connection dies; an event commits before it is back.
        pid = hub.listener_pid()
        assert pid is not None
        await db.execute("SELECT pg_terminate_backend($1)", pid)
        for _ in range(300):  # until the hub noticed: the next commit is heard by no one
            if not hub.listening.is_set():
                break
            await asyncio.sleep(0.01)
        assert not hub.listening.is_set()
        await _stop_succeeds(db, alice_instance)
        missed = await _next(alice, 30)
        assert isinstance(missed, dict)
        assert missed["type"] == "instance.stopped"
        assert missed["id"] > got["id"]
        await asyncio.wait_for(hub.listening.wait(), 30)
        assert hub.listener_pid() not in (None, pid)
        await _stop_succeeds(db, alice_instance)  # and live again
        assert (await _next(alice))["id"] > missed["id"]  # type: ignore[index]
        assert bob.queue.empty()
    finally:
        await hub.stop()


def test_a_slow_subscriber_is_cut_off_at_its_bound() -> None:
    sub = Subscriber(_user(1), size=3)
    for n in range(10):
        sub.offer({"type": "instance.stopped", "id": n})
    assert sub.cut_off
    assert sub.queue.qsize() == 1
    assert sub.queue.get_nowait() is None
