"""Events: what the gateway, the collector, the worker and the alerting saw happen.

Written in batches by the event recorder; read by the API (own instances for users) and
by the rules that count events (auth failure bursts, provisioning failures)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from . import Executor


@dataclass(frozen=True)
class Event:
    kind: str
    message: str
    source: str
    severity: str = "info"
    instance_id: str | None = None
    subject: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
    at: datetime | None = None  # None: the database's now()


def storable(value: Any) -> Any:
    """PostgreSQL refuses NUL in text and jsonb, and a lone surrogate cannot be encoded:
    one such character from a request must not make the recorder retry a batch forever."""
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd").encode("utf-8", "replace").decode("utf-8")
    if isinstance(value, dict):
        return {storable(k): storable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [storable(v) for v in value]
    return value


async def insert_many(db: Executor, events: Sequence[Event]) -> None:
    if not events:
        return
    await db.executemany(
        "INSERT INTO events (at, kind, severity, source, instance_id, subject, message, details)"
        " VALUES (coalesce($1, now()), $2, $3, $4, $5, $6, $7, $8)",
        [
            (
                e.at,
                e.kind,
                e.severity,
                e.source,
                storable(e.instance_id),
                storable(e.subject),
                storable(e.message[:1000]),
                storable(e.details),
            )
            for e in events
        ],
    )


async def insert(db: Executor, event: Event) -> None:
    await insert_many(db, [event])


async def page(
    db: Executor,
    *,
    owner_id: int | None,
    kind: str | None,
    instance_id: str | None,
    before_id: int | None,
    limit: int,
) -> list[dict[str, Any]]:
    """Newest first. With owner_id, only events of that user's instances."""
    rows = await db.fetch(
        "SELECT e.* FROM events e"
        " WHERE ($1::bigint IS NULL OR e.instance_id IN (SELECT id FROM instances WHERE owner_id = $1))"
        " AND ($2::text IS NULL OR e.kind = $2)"
        " AND ($3::text IS NULL OR e.instance_id = $3)"
        " AND ($4::bigint IS NULL OR e.id < $4)"
        " ORDER BY e.id DESC LIMIT $5",
        owner_id,
        kind,
        instance_id,
        before_id,
        limit,
    )
    return [dict(r) for r in rows]


async def counts_by_subject(db: Executor, kind: str, window_seconds: float) -> dict[str, int]:
    """How many events of a kind each subject (e.g. client address) had in the window."""
    rows = await db.fetch(
        "SELECT subject, count(*) AS n FROM events"
        " WHERE kind = $1 AND at > now() - make_interval(secs => $2) AND subject IS NOT NULL"
        " GROUP BY subject",
        kind,
        window_seconds,
    )
    return {r["subject"]: int(r["n"]) for r in rows}


async def counts_by_instance(
    db: Executor, kinds: Iterable[str], window_seconds: float
) -> dict[str, tuple[int, str]]:
    """instance id -> (count, latest message) for events of these kinds in the window."""
    rows = await db.fetch(
        "SELECT instance_id, count(*) AS n,"
        " (array_agg(message ORDER BY id DESC))[1] AS latest FROM events"
        " WHERE kind = ANY($1::text[]) AND at > now() - make_interval(secs => $2)"
        " AND instance_id IS NOT NULL GROUP BY instance_id",
        list(kinds),
        window_seconds,
    )
    return {r["instance_id"]: (int(r["n"]), r["latest"]) for r in rows}
