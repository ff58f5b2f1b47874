"""Webhooks (owned by users; an admin's receives everything) and every delivery to them
or to Alertmanager, with its attempts and outcome. A webhook subscribes to alerts,
instance events or both; its signing secret is stored encrypted (the service's SecretBox),
and instance events are queued for it by PostgreSQL itself (migration 0012)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from asyncpg import Record

    from . import Executor, Pool


@dataclass(frozen=True)
class Webhook:
    id: int
    owner_id: int
    owner: str
    owner_is_admin: bool
    url: str
    send_resolved: bool
    created_at: datetime
    events: list[str]
    signed: bool  # made before webhooks had secrets (migration 0012): deliveries go unsigned


@dataclass(frozen=True)
class Delivery:
    id: int
    webhook_id: int | None
    target: str
    payload: Any  # a webhook payload (object) or Alertmanager's list of alerts
    attempts: int
    max_attempts: int
    secret: bytes | None = None  # the webhook's encrypted signing secret


_SELECT = (
    "SELECT w.id, w.owner_id, w.url, w.send_resolved, w.created_at, w.events,"
    " w.secret IS NOT NULL AS signed, u.username AS owner, u.is_admin AS owner_is_admin FROM webhooks w"
    " JOIN users u ON u.id = w.owner_id WHERE w.deleted_at IS NULL"
)


def _webhook(r: Record) -> Webhook:
    return Webhook(**{k: r[k] for k in Webhook.__dataclass_fields__})


async def create(
    db: Executor,
    owner_id: int,
    url: str,
    send_resolved: bool,
    *,
    events: Sequence[str] = ("alerts",),
    secret: bytes | None = None,
) -> Webhook:
    new_id = await db.fetchval(
        "INSERT INTO webhooks (owner_id, url, send_resolved, events, secret)"
        " VALUES ($1, $2, $3, $4::text[], $5) RETURNING id",
        owner_id,
        url,
        send_resolved,
        list(events),
        secret,
    )
    row = await db.fetchrow(f"{_SELECT} AND w.id = $1", new_id)
    assert row is not None
    return _webhook(row)


async def create_within(
    pool: Pool,
    owner_id: int,
    url: str,
    send_resolved: bool,
    *,
    limit: int,
    events: Sequence[str] = ("alerts",),
    secret: bytes | None = None,
) -> Webhook | None:
    """A new webhook, unless the owner already has `limit` of them (None, nothing written).
    The owner's row is locked first, so concurrent creates cannot both pass the count."""
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SELECT 1 FROM users WHERE id = $1 FOR UPDATE", owner_id)
        count = await conn.fetchval(
            "SELECT count(*) FROM webhooks WHERE owner_id = $1 AND deleted_at IS NULL", owner_id
        )
        if count >= limit:
            return None
        return await create(conn, owner_id, url, send_resolved, events=events, secret=secret)


async def list_for(db: Executor, owner_id: int | None, *, subscribed: str | None = None) -> list[Webhook]:
    """One user's webhooks, or every webhook (owner_id None); with `subscribed`, only those
    that receive it (alerts or instances)."""
    rows = await db.fetch(
        f"{_SELECT} AND ($1::bigint IS NULL OR w.owner_id = $1)"
        " AND ($2::text IS NULL OR $2 = ANY (w.events)) ORDER BY w.id",
        owner_id,
        subscribed,
    )
    return [_webhook(r) for r in rows]


async def delete(db: Executor, webhook_id: int, owner_id: int) -> bool:
    result = await db.execute(
        "UPDATE webhooks SET deleted_at = now() WHERE id = $1 AND owner_id = $2 AND deleted_at IS NULL",
        webhook_id,
        owner_id,
    )
    return result.endswith(" 1")


async def owners_of(db: Executor, instance_ids: Sequence[str]) -> dict[str, int]:
    rows = await db.fetch("SELECT id, owner_id FROM instances WHERE id = ANY($1::text[])", list(instance_ids))
    return {r["id"]: r["owner_id"] for r in rows}


async def queue(
    db: Executor, items: Sequence[tuple[int | None, str, dict[str, Any]]], *, max_attempts: int
) -> None:
    """items: (webhook id or None for Alertmanager, target URL, payload)."""
    if items:
        await db.executemany(
            "INSERT INTO deliveries (webhook_id, target, payload, max_attempts) VALUES ($1, $2, $3, $4)",
            [(w, t, p, max_attempts) for w, t, p in items],
        )


async def claim_due(db: Executor, limit: int, lease_seconds: float) -> list[Delivery]:
    """Due pending deliveries; their next attempt moves out by the lease so that a second
    dispatcher (or this one, after a crash) does not send them at the same time."""
    rows = await db.fetch(
        "UPDATE deliveries d SET next_attempt_at = now() + make_interval(secs => $2)"
        " WHERE d.id IN (SELECT id FROM deliveries WHERE status = 'pending' AND next_attempt_at <= now()"
        " ORDER BY next_attempt_at LIMIT $1 FOR UPDATE SKIP LOCKED)"
        " RETURNING d.id, d.webhook_id, d.target, d.payload, d.attempts, d.max_attempts,"
        " (SELECT w.secret FROM webhooks w WHERE w.id = d.webhook_id) AS secret",
        limit,
        lease_seconds,
    )
    return [Delivery(**{k: r[k] for k in Delivery.__dataclass_fields__}) for r in rows]


async def record(
    db: Executor,
    delivery_id: int,
    *,
    delivered: bool,
    response_status: int | None,
    error: str | None,
    retry_in: float | None,
) -> None:
    """One attempt: delivered, retried after `retry_in` seconds, or (retry_in None) failed."""
    status = "delivered" if delivered else ("pending" if retry_in is not None else "failed")
    await db.execute(
        "UPDATE deliveries SET attempts = attempts + 1, status = $2, response_status = $3, error = $4,"
        " next_attempt_at = now() + make_interval(secs => $5),"
        " delivered_at = CASE WHEN $2 = 'delivered' THEN now() END WHERE id = $1",
        delivery_id,
        status,
        response_status,
        error,
        retry_in or 0.0,
    )


async def queue_one(
    db: Executor, webhook_id: int, target: str, payload: dict[str, Any], *, max_attempts: int
) -> int:
    """One delivery to one webhook, due now; its id."""
    delivery_id: int = await db.fetchval(
        "INSERT INTO deliveries (webhook_id, target, payload, max_attempts)"
        " VALUES ($1, $2, $3, $4) RETURNING id",
        webhook_id,
        target,
        payload,
        max_attempts,
    )
    return delivery_id


async def recent_for(db: Executor, webhook_id: int, limit: int = 20) -> list[dict[str, Any]]:
    rows = await db.fetch(
        "SELECT id, status, attempts, max_attempts, response_status, error, created_at, delivered_at,"
        " next_attempt_at,"
        " coalesce(payload->>'type', payload->>'status') AS payload_status"
        " FROM deliveries WHERE webhook_id = $1"
        " ORDER BY id DESC LIMIT $2",
        webhook_id,
        limit,
    )
    return [dict(r) for r in rows]
