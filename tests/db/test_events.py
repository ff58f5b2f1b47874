"""Events keep what a request said even when PostgreSQL cannot store it as sent."""

from __future__ import annotations

import secrets

import asyncpg

from service.db import events


async def test_nul_and_lone_surrogates_do_not_jam_a_batch(db: asyncpg.Pool) -> None:
    tag = "storable-" + secrets.token_hex(4)  # the kind: source is one of a fixed set
    batch = [
        events.Event(kind=tag, source="gateway", message="fine", details={"n": 1}),
        events.Event(
            kind=tag,
            source="gateway",
            subject="client\x00",
            message="user 'a\x00b' tried \ud800",
            details={"username": "a\x00b", "fields": ["settings.\udfff"], "k\x00": True},
        ),
    ]
    # Before: the whole batch failed, and the recorder retried it (and everything after it) forever.
    await events.insert_many(db, batch)
    rows = await db.fetch("SELECT subject, message, details FROM events WHERE kind = $1 ORDER BY id", tag)
    assert len(rows) == 2
    assert rows[1]["subject"] == "client\ufffd"
    assert "\x00" not in rows[1]["message"]
    assert rows[1]["details"]["username"] == "a\ufffdb"
