"""Alerts and their history. At most one open alert (pending, firing, acknowledged) per
fingerprint; a resolved alert stays as history until retention removes it."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from asyncpg import Record

    from . import Conn, Executor


@dataclass(frozen=True)
class Alert:
    id: int
    rule_id: int | None
    rule: str
    fingerprint: str
    status: str
    severity: str
    labels: dict[str, str]
    annotations: dict[str, str]
    instance_id: str | None
    value: float | None
    pending_since: datetime
    starts_at: datetime | None
    ends_at: datetime | None
    last_true_at: datetime
    acknowledged_by: str | None
    acknowledged_at: datetime | None
    comment: str | None
    updated_at: datetime


def _alert(r: Record) -> Alert:
    return Alert(**{k: r[k] for k in Alert.__dataclass_fields__})


async def open_alerts(db: Executor) -> list[Alert]:
    rows = await db.fetch("SELECT * FROM alerts WHERE status <> 'resolved' ORDER BY id")
    return [_alert(r) for r in rows]


async def insert_pending(
    db: Executor,
    *,
    rule_id: int,
    rule: str,
    fingerprint: str,
    severity: str,
    labels: dict[str, str],
    annotations: dict[str, str],
    instance_id: str | None,
    value: float | None,
    now: datetime,
) -> Alert | None:
    """None when an open alert with this fingerprint exists already."""
    row = await db.fetchrow(
        "INSERT INTO alerts (rule_id, rule, fingerprint, status, severity, labels, annotations,"
        " instance_id, value, pending_since, last_true_at, updated_at)"
        " VALUES ($1, $2, $3, 'pending', $4, $5, $6, $7, $8, $9, $9, $9)"
        " ON CONFLICT (fingerprint) WHERE status <> 'resolved' DO NOTHING RETURNING *",
        rule_id,
        rule,
        fingerprint,
        severity,
        labels,
        annotations,
        instance_id,
        value,
        now,
    )
    if row is None:
        return None
    await add_history(db, row["id"], "pending", now, value=value)
    return _alert(row)


async def add_history(
    db: Executor,
    alert_id: int,
    status: str,
    at: datetime,
    *,
    actor: str | None = None,
    comment: str | None = None,
    value: float | None = None,
) -> None:
    await db.execute(
        "INSERT INTO alert_history (alert_id, at, status, actor, comment, value)"
        " VALUES ($1, $2, $3, $4, $5, $6)",
        alert_id,
        at,
        status,
        actor,
        comment,
        value,
    )


async def still_true(
    db: Executor, alert_id: int, now: datetime, value: float | None, annotations: dict[str, str]
) -> None:
    await db.execute(
        "UPDATE alerts SET last_true_at = $2, value = $3, annotations = $4, updated_at = $2 WHERE id = $1",
        alert_id,
        now,
        value,
        annotations,
    )


async def fire(db: Executor, alert_id: int, now: datetime) -> Alert | None:
    row = await db.fetchrow(
        "UPDATE alerts SET status = 'firing', starts_at = $2, updated_at = $2"
        " WHERE id = $1 AND status = 'pending' RETURNING *",
        alert_id,
        now,
    )
    if row is None:
        return None
    await add_history(db, alert_id, "firing", now, value=row["value"])
    return _alert(row)


async def resolve(db: Executor, alert_id: int, now: datetime, reason: str) -> Alert | None:
    row = await db.fetchrow(
        "UPDATE alerts SET status = 'resolved', ends_at = $2, updated_at = $2"
        " WHERE id = $1 AND status IN ('firing', 'acknowledged') RETURNING *",
        alert_id,
        now,
    )
    if row is None:
        return None
    await add_history(db, alert_id, "resolved", now, comment=reason)
    return _alert(row)


async def drop_pending(db: Executor, alert_id: int) -> None:
    """A pending alert whose condition cleared before `for` elapsed never existed for anyone."""
    await db.execute("DELETE FROM alerts WHERE id = $1 AND status = 'pending'", alert_id)


async def acknowledge(
    conn: Conn, alert_id: int, *, by: str, comment: str | None, owner_id: int | None
) -> tuple[Alert | None, str | None]:
    """In the caller's transaction: (alert, None) when acknowledged; (None, None) when not
    found for this caller; (None, status) when the alert is not firing."""
    row = await conn.fetchrow(f"{_VISIBLE} AND a.id = $2 FOR UPDATE OF a", owner_id, alert_id)
    if row is None:
        return None, None
    if row["status"] != "firing":
        return None, str(row["status"])
    updated = await conn.fetchrow(
        "UPDATE alerts SET status = 'acknowledged', acknowledged_by = $2, acknowledged_at = now(),"
        " comment = $3, updated_at = now() WHERE id = $1 RETURNING *",
        alert_id,
        by,
        comment,
    )
    assert updated is not None
    await add_history(conn, alert_id, "acknowledged", updated["acknowledged_at"], actor=by, comment=comment)
    return _alert(updated), None


# Users see alerts of their own instances; alerts about the service as a whole are for admins.
_VISIBLE = (
    "SELECT a.* FROM alerts a WHERE ($1::bigint IS NULL"
    " OR a.instance_id IN (SELECT id FROM instances WHERE owner_id = $1))"
)


async def page(
    db: Executor,
    *,
    owner_id: int | None,
    instance_id: str | None,
    status: str | None,
    rule: str | None,
    limit: int,
) -> list[Alert]:
    rows = await db.fetch(
        f"{_VISIBLE} AND ($2::text IS NULL OR a.instance_id = $2)"
        " AND ($3::text IS NULL OR a.status = $3) AND ($4::text IS NULL OR a.rule = $4)"
        " ORDER BY a.id DESC LIMIT $5",
        owner_id,
        instance_id,
        status,
        rule,
        limit,
    )
    return [_alert(r) for r in rows]


async def get_visible(db: Executor, alert_id: int, owner_id: int | None) -> Alert | None:
    row = await db.fetchrow(f"{_VISIBLE} AND a.id = $2", owner_id, alert_id)
    return _alert(row) if row else None


async def history(db: Executor, alert_ids: Iterable[int]) -> dict[int, list[dict[str, Any]]]:
    rows = await db.fetch(
        "SELECT * FROM alert_history WHERE alert_id = ANY($1::bigint[]) ORDER BY id", list(alert_ids)
    )
    found: dict[int, list[dict[str, Any]]] = {}
    for r in rows:
        found.setdefault(r["alert_id"], []).append(dict(r))
    return found


async def open_for_instance(db: Executor, instance_id: str) -> list[Alert]:
    rows = await db.fetch(
        "SELECT * FROM alerts WHERE instance_id = $1 AND status <> 'resolved' ORDER BY id", instance_id
    )
    return [_alert(r) for r in rows]


async def firing_counts(db: Executor) -> list[tuple[str, str, str, int]]:
    """(rule, severity, status, count) of firing and acknowledged alerts."""
    rows = await db.fetch(
        "SELECT rule, severity, status, count(*) AS n FROM alerts"
        " WHERE status IN ('firing', 'acknowledged') GROUP BY rule, severity, status"
    )
    return [(r["rule"], r["severity"], r["status"], int(r["n"])) for r in rows]
