"""Instances: the desired state of every database dbvend hands out."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from asyncpg import Record

    from . import Executor

LIVE = "deleted_at IS NULL"


@dataclass(frozen=True)
class Instance:
    id: str
    name: str
    engine: str
    owner_id: int
    owner: str
    status: str
    settings: dict[str, Any]
    memory_mb: int
    host: str
    address: str
    port: int
    username: str
    secrets: bytes
    facts: dict[str, Any]
    error: str | None
    created_at: datetime
    updated_at: datetime
    host_state: str = "up"
    host_in_inventory: bool = True
    backup_policy: dict[str, Any] | None = None  # {"interval_hours", "keep"}; None: no schedule
    plan: str | None = None  # the plan (service/plans) it runs on; None: custom settings


_SELECT = (
    "SELECT i.*, u.username AS owner, h.address, h.state AS host_state, h.in_inventory AS host_in_inventory"
    " FROM instances i"
    " JOIN users u ON u.id = i.owner_id JOIN hosts h ON h.name = i.host"
)


def _instance(r: Record) -> Instance:
    return Instance(
        id=r["id"],
        name=r["name"],
        engine=r["engine"],
        owner_id=r["owner_id"],
        owner=r["owner"],
        status=r["status"],
        settings=r["settings"],
        memory_mb=r["memory_mb"],
        host=r["host"],
        address=r["address"],
        port=r["port"],
        username=r["username"],
        secrets=bytes(r["secrets"]),
        facts=r["facts"],
        error=r["error"],
        created_at=r["created_at"],
        updated_at=r["updated_at"],
        host_state=r["host_state"],
        host_in_inventory=r["host_in_inventory"],
        backup_policy=r.get("backup_policy"),
        plan=r["plan"],
    )


async def insert(
    db: Executor,
    *,
    id: str,
    name: str,
    engine: str,
    owner_id: int,
    settings: dict[str, Any],
    memory_mb: int,
    host: str,
    port: int,
    username: str,
    secrets: bytes,
    plan: str | None = None,
) -> None:
    await db.execute(
        "INSERT INTO instances (id, name, engine, owner_id, status, settings, memory_mb, host, port,"
        " username, secrets, plan) VALUES ($1, $2, $3, $4, 'provisioning', $5, $6, $7, $8, $9, $10, $11)",
        id,
        name,
        engine,
        owner_id,
        settings,
        memory_mb,
        host,
        port,
        username,
        secrets,
        plan,
    )


async def name_taken(db: Executor, owner_id: int, name: str) -> bool:
    return bool(
        await db.fetchval(
            f"SELECT EXISTS (SELECT 1 FROM instances WHERE owner_id = $1 AND name = $2 AND {LIVE})",
            owner_id,
            name,
        )
    )


async def get(db: Executor, instance_id: str, *, owner_id: int | None = None) -> Instance | None:
    """A live instance; with owner_id, only when that user owns it."""
    row = await db.fetchrow(
        f"{_SELECT} WHERE i.id = $1 AND i.{LIVE} AND ($2::bigint IS NULL OR i.owner_id = $2)",
        instance_id,
        owner_id,
    )
    return _instance(row) if row else None


@dataclass(frozen=True)
class Locked:
    id: str
    status: str
    host: str
    host_in_inventory: bool
    engine: str = ""
    name: str = ""
    owner_id: int = 0
    memory_mb: int = 0
    settings: dict[str, Any] | None = None
    plan: str | None = None


async def lock_live(db: Executor, instance_id: str, *, owner_id: int | None) -> Locked | None:
    """A live instance's row, locked for the rest of the transaction (an operation being
    queued: two requests on one instance are taken one after the other)."""
    row = await db.fetchrow(
        "SELECT i.id, i.status, i.host, h.in_inventory, i.engine, i.name, i.owner_id, i.memory_mb,"
        " i.settings, i.plan FROM instances i JOIN hosts h ON h.name = i.host"
        f" WHERE i.id = $1 AND i.{LIVE} AND ($2::bigint IS NULL OR i.owner_id = $2) FOR UPDATE OF i",
        instance_id,
        owner_id,
    )
    if row is None:
        return None
    return Locked(
        row["id"],
        row["status"],
        row["host"],
        row["in_inventory"],
        engine=row["engine"],
        name=row["name"],
        owner_id=row["owner_id"],
        memory_mb=row["memory_mb"],
        settings=row["settings"],
        plan=row["plan"],
    )


async def get_any(db: Executor, instance_id: str) -> Instance | None:
    """Also deleted ones: the worker finishing an operation needs them."""
    row = await db.fetchrow(f"{_SELECT} WHERE i.id = $1", instance_id)
    return _instance(row) if row else None


async def page(
    db: Executor,
    *,
    owner_id: int | None,
    engine: str | None,
    status: str | None,
    limit: int,
    after: tuple[datetime, str] | None,
) -> list[Instance]:
    """Newest first, keyset-paginated on (created_at, id)."""
    rows = await db.fetch(
        f"{_SELECT} WHERE i.{LIVE}"
        " AND ($1::bigint IS NULL OR i.owner_id = $1)"
        " AND ($2::text IS NULL OR i.engine = $2)"
        " AND ($3::text IS NULL OR i.status = $3)"
        " AND ($4::timestamptz IS NULL OR (i.created_at, i.id) < ($4, $5))"
        " ORDER BY i.created_at DESC, i.id DESC LIMIT $6",
        owner_id,
        engine,
        status,
        after[0] if after else None,
        after[1] if after else None,
        limit,
    )
    return [_instance(r) for r in rows]


async def set_status(
    db: Executor,
    instance_id: str,
    status: str,
    *,
    only_from: tuple[str, ...] | None = None,
    error: str | None = None,
    facts: dict[str, Any] | None = None,
) -> bool:
    result = await db.execute(
        "UPDATE instances SET status = $2, error = $3, facts = coalesce($4, facts), updated_at = now()"
        " WHERE id = $1 AND deleted_at IS NULL AND ($5::text[] IS NULL OR status = ANY($5))",
        instance_id,
        status,
        error,
        facts,
        list(only_from) if only_from else None,
    )
    return result.endswith(" 1")


async def reconfigured(
    db: Executor,
    instance_id: str,
    settings: dict[str, Any],
    memory_mb: int,
    facts: dict[str, Any] | None,
    *,
    plan: str | None,
) -> None:
    """A settings change took effect: the row holds the new settings, size and plan."""
    await db.execute(
        "UPDATE instances SET settings = $2, memory_mb = $3, facts = coalesce($4, facts), plan = $5,"
        " updated_at = now() WHERE id = $1 AND deleted_at IS NULL",
        instance_id,
        settings,
        memory_mb,
        facts,
        plan,
    )


async def set_plan(db: Executor, instance_id: str, plan: str | None) -> None:
    """A move to a plan with the same settings: nothing to deploy, the row's plan changes."""
    await db.execute(
        "UPDATE instances SET plan = $2, updated_at = now() WHERE id = $1 AND deleted_at IS NULL",
        instance_id,
        plan,
    )


async def rekeyed(db: Executor, instance_id: str, secrets: bytes) -> None:
    """A password rotation took effect: the row holds the new (sealed) credentials."""
    await db.execute(
        "UPDATE instances SET secrets = $2, updated_at = now() WHERE id = $1 AND deleted_at IS NULL",
        instance_id,
        secrets,
    )


async def move(db: Executor, instance_id: str, host: str, port: int) -> None:
    await db.execute(
        "UPDATE instances SET host = $2, port = $3, updated_at = now() WHERE id = $1", instance_id, host, port
    )


async def mark_deleted(db: Executor, instance_id: str) -> None:
    await db.execute(
        "UPDATE instances SET status = 'deleted', deleted_at = now(), updated_at = now() WHERE id = $1",
        instance_id,
    )


async def live_on_host(db: Executor, host: str) -> list[Instance]:
    return [_instance(r) for r in await db.fetch(f"{_SELECT} WHERE i.host = $1 AND i.{LIVE}", host)]


async def created_as(db: Executor, owner_id: int, name: str) -> tuple[str, str] | None:
    """The owner's live instance of this name and the operation that created it (its first
    create), or None: a repeated request finds what an earlier one made."""
    row = await db.fetchrow(
        "SELECT i.id, (SELECT o.id FROM operations o WHERE o.instance_id = i.id AND o.kind = 'create'"
        " ORDER BY o.created_at LIMIT 1) AS op FROM instances i"
        " WHERE i.owner_id = $1 AND i.name = $2 AND i.deleted_at IS NULL",
        owner_id,
        name,
    )
    if row is None or row["op"] is None:
        return None
    return str(row["id"]), str(row["op"])
