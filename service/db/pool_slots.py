"""Warm pool slots (0016_pool.sql): tenant-less containers a claim turns into instances.

A slot holds its port as a port_claims row with slot_id, and counts as committed memory
on its host until its container is gone (db/hosts.py _COMMITTED). warming and claiming
slots carry a lease (owner, expiry): the keeper's recovery takes back those whose owner
died. Secrets are SecretBox-sealed like an instance's."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Mapping

    from asyncpg import Record

    from . import Executor


@dataclass(frozen=True)
class Slot:
    id: str
    host: str
    engine: str
    memory_mb: int
    port: int
    status: str
    secrets: bytes
    settings: dict[str, Any]
    facts: dict[str, Any] | None
    error: str | None
    lease_owner: str | None
    ready_at: datetime | None


def _slot(r: Record) -> Slot:
    return Slot(
        id=r["id"],
        host=r["host"],
        engine=r["engine"],
        memory_mb=r["memory_mb"],
        port=r["port"],
        status=r["status"],
        secrets=bytes(r["secrets"]),
        settings=r["settings"],
        facts=r["facts"],
        error=r["error"],
        lease_owner=r["lease_owner"],
        ready_at=r["ready_at"],
    )


async def insert_warming(
    db: Executor,
    *,
    id: str,
    host: str,
    engine: str,
    memory_mb: int,
    port: int,
    secrets: bytes,
    settings: dict[str, Any],
    owner: str,
    lease_seconds: float,
) -> None:
    """A slot a refill run is about to deploy, with its port claim (the caller holds
    PLACEMENT_LOCK and has checked the host's capacity)."""
    await db.execute(
        "INSERT INTO pool_slots (id, host, engine, memory_mb, port, secrets, settings, lease_owner,"
        " lease_expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, now() + make_interval(secs => $9))",
        id,
        host,
        engine,
        memory_mb,
        port,
        secrets,
        settings,
        owner,
        float(lease_seconds),
    )
    await db.execute(
        "DELETE FROM port_claims WHERE host = $1 AND port = $2 AND blocked_until <= now()", host, port
    )
    await db.execute("INSERT INTO port_claims (host, port, slot_id) VALUES ($1, $2, $3)", host, port, id)


async def get(db: Executor, slot_id: str) -> Slot | None:
    row = await db.fetchrow("SELECT * FROM pool_slots WHERE id = $1", slot_id)
    return _slot(row) if row else None


async def warmed(db: Executor, slot_id: str, owner: str, facts: dict[str, Any]) -> bool:
    """The refill run deployed the slot and it answered: ready (only for the run's owner)."""
    result = await db.execute(
        "UPDATE pool_slots SET status = 'ready', facts = $3, ready_at = now(), lease_owner = NULL,"
        " lease_expires_at = NULL, error = NULL"
        " WHERE id = $1 AND status = 'warming' AND lease_owner = $2",
        slot_id,
        owner,
        facts,
    )
    return result.endswith(" 1")


async def take(
    db: Executor,
    engine: str,
    classes: list[int],
    hosts: list[str],
    owner: str,
    lease_seconds: float,
    *,
    tls: str = "off",
) -> Slot | None:
    """One ready slot of this engine and TLS mode, of the smallest of `classes` that has one,
    on the first of `hosts` (least loaded first) that has one, marked claiming for `owner`;
    rows other claims hold are skipped."""
    row = await db.fetchrow(
        "UPDATE pool_slots s SET status = 'claiming', lease_owner = $4,"
        " lease_expires_at = now() + make_interval(secs => $5)"
        " WHERE s.id = (SELECT c.id FROM pool_slots c WHERE c.status = 'ready' AND c.engine = $1"
        "   AND c.memory_mb = ANY($2::int[]) AND c.host = ANY($3::text[])"
        "   AND coalesce(c.settings->>'tls', 'off') = $6"
        "   ORDER BY c.memory_mb, array_position($3::text[], c.host), c.ready_at LIMIT 1"
        "   FOR UPDATE SKIP LOCKED)"
        " RETURNING s.*",
        engine,
        classes,
        hosts,
        owner,
        float(lease_seconds),
        tls,
    )
    return _slot(row) if row else None


async def claimed(db: Executor, slot_id: str, owner: str) -> bool:
    """tx2 of a claim: the slot is the instance now; its port claim moves to the instance.
    Fenced: False when this owner no longer holds the claiming slot (recovery took it back)."""
    row = await db.fetchrow(
        "UPDATE pool_slots SET status = 'claimed', claimed_at = now(), lease_owner = NULL,"
        " lease_expires_at = NULL WHERE id = $1 AND status = 'claiming' AND lease_owner = $2"
        " RETURNING id",
        slot_id,
        owner,
    )
    if row is None:
        return False
    await db.execute("UPDATE port_claims SET slot_id = NULL, instance_id = $1 WHERE slot_id = $1", slot_id)
    return True


async def unclaim(db: Executor, slot_id: str, owner: str) -> None:
    """A claim that did not happen (quota or name refused in tx2): the slot is ready again;
    the next claim re-keys everything."""
    await db.execute(
        "UPDATE pool_slots SET status = 'ready', lease_owner = NULL, lease_expires_at = NULL"
        " WHERE id = $1 AND status = 'claiming' AND lease_owner = $2",
        slot_id,
        owner,
    )


async def break_slot(db: Executor, slot_id: str, error: str, *, owner: str | None = None) -> None:
    """The slot cannot serve (a failed deploy, re-key or readiness check; surplus): the
    keeper destroys its container. With `owner`, only while that owner holds it."""
    await db.execute(
        "UPDATE pool_slots SET status = 'broken', error = $2, lease_owner = NULL, lease_expires_at = NULL"
        " WHERE id = $1 AND status IN ('warming', 'ready', 'claiming')"
        " AND ($3::text IS NULL OR lease_owner = $3)",
        slot_id,
        error[:1000],
        owner,
    )


async def recover(db: Executor) -> tuple[int, int]:
    """Slots whose holder died: claiming -> ready (the user never saw the credentials),
    warming -> broken (the keeper destroys whatever the run made). Returns both counts."""
    back = await db.execute(
        "UPDATE pool_slots SET status = 'ready', lease_owner = NULL, lease_expires_at = NULL"
        " WHERE status = 'claiming' AND lease_expires_at < now()"
        " AND NOT EXISTS (SELECT 1 FROM instances i WHERE i.id = pool_slots.id)"
    )
    dead = await db.execute(
        "UPDATE pool_slots SET status = 'broken', error = 'its refill run did not finish',"
        " lease_owner = NULL, lease_expires_at = NULL WHERE status = 'warming' AND lease_expires_at < now()"
    )
    return int(back.split()[-1]), int(dead.split()[-1])


async def surplus(db: Executor, wanted: dict[tuple[str, str, int], int], hosts: list[str]) -> list[str]:
    """Ready slots beyond what the inventory asks for (a smaller pool, a class or host
    that left it): the newest ones, so the oldest (proven) slots stay. The keeper breaks
    and destroys them."""
    rows = await db.fetch(
        "SELECT id, host, engine, memory_mb FROM pool_slots WHERE status = 'ready' ORDER BY ready_at, id"
    )
    seen: dict[tuple[str, str, int], int] = {}
    extra = []
    for r in rows:
        key = (r["host"], r["engine"], r["memory_mb"])
        seen[key] = seen.get(key, 0) + 1
        if r["host"] not in hosts or seen[key] > wanted.get(key, 0):
            extra.append(str(r["id"]))
    return extra


async def other_tls(db: Executor, modes: Mapping[str, str]) -> list[str]:
    """Ready slots deployed with another TLS mode than the one the pool serves now per
    engine (DBVEND_TLS_DEFAULT changed): the keeper retires them and deploys new ones."""
    rows = await db.fetch(
        "SELECT id, engine, coalesce(settings->>'tls', 'off') AS tls FROM pool_slots WHERE status = 'ready'"
    )
    return [str(r["id"]) for r in rows if r["engine"] in modes and r["tls"] != modes[r["engine"]]]


async def exists(db: Executor, slot_id: str) -> bool:
    return bool(await db.fetchval("SELECT EXISTS (SELECT 1 FROM pool_slots WHERE id = $1)", slot_id))


async def retire(db: Executor, slot_ids: list[str], reason: str) -> None:
    """Ready slots the keeper no longer wants (surplus): broken, so they are destroyed. A
    slot a claim took meanwhile (claiming) is left to its claim."""
    await db.execute(
        "UPDATE pool_slots SET status = 'broken', error = $2 WHERE id = ANY($1::text[]) AND status = 'ready'",
        slot_ids,
        reason,
    )


async def renew(db: Executor, slot_ids: list[str], owner: str, lease_seconds: float) -> None:
    """The refill run is still going: keep its warming slots' lease."""
    await db.execute(
        "UPDATE pool_slots SET lease_expires_at = now() + make_interval(secs => $3)"
        " WHERE id = ANY($1::text[]) AND status = 'warming' AND lease_owner = $2",
        slot_ids,
        owner,
        float(lease_seconds),
    )


async def broken(db: Executor) -> list[Slot]:
    rows = await db.fetch("SELECT * FROM pool_slots WHERE status = 'broken' ORDER BY created_at")
    return [_slot(r) for r in rows]


async def remove(db: Executor, slot_ids: list[str]) -> None:
    """After deprovision.yml removed their containers: the rows and their port claims
    (only of slots still broken)."""
    await db.execute(
        "DELETE FROM port_claims pc USING pool_slots s WHERE pc.slot_id = s.id"
        " AND s.id = ANY($1::text[]) AND s.status = 'broken'",
        slot_ids,
    )
    await db.execute("DELETE FROM pool_slots WHERE id = ANY($1::text[]) AND status = 'broken'", slot_ids)


async def prune_claimed(db: Executor, older_than_seconds: float) -> None:
    """A claimed slot's row is history once its instance exists (its port claim moved)."""
    await db.execute(
        "DELETE FROM pool_slots WHERE status = 'claimed' AND claimed_at < now() - make_interval(secs => $1)",
        float(older_than_seconds),
    )


async def live_counts(db: Executor) -> dict[tuple[str, str, int, str], int]:
    """(host, engine, memory_mb, status) -> slots, for the keeper and /metrics."""
    rows = await db.fetch(
        "SELECT host, engine, memory_mb, status, count(*) AS n FROM pool_slots"
        " WHERE status <> 'claimed' GROUP BY 1, 2, 3, 4"
    )
    return {(r["host"], r["engine"], r["memory_mb"], r["status"]): int(r["n"]) for r in rows}


async def empty_pools(db: Executor) -> list[tuple[str, str, int, int]]:
    """(host, engine, class MB, configured size) of pools with no ready slot, on hosts that
    are up, undrained and in the inventory (hosts.pool is the inventory's dbvend_pool)."""
    rows = await db.fetch(
        "SELECT h.name, p.engine, c.mb::int AS mb, c.n::int AS n FROM hosts h"
        " CROSS JOIN LATERAL jsonb_each(h.pool) p(engine, classes)"
        " CROSS JOIN LATERAL jsonb_each_text(p.classes) c(mb, n)"
        " WHERE h.in_inventory AND h.state = 'up' AND NOT h.draining AND c.n::int > 0"
        " AND NOT EXISTS (SELECT 1 FROM pool_slots s WHERE s.host = h.name AND s.engine = p.engine"
        "   AND s.memory_mb = c.mb::int AND s.status = 'ready')"
        " ORDER BY 1, 2, 3"
    )
    return [(r["name"], r["engine"], r["mb"], r["n"]) for r in rows]
