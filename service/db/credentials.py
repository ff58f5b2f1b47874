"""Instance credentials: the extra database users of an instance (bind/unbind), each with
its password sealed like instances.secrets. A removed credential keeps its row
(removed_at); every read here skips those and filters by the instance's owner."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from asyncpg import Record

    from . import Executor


@dataclass(frozen=True)
class CredentialRow:
    id: str
    instance_id: str
    name: str
    username: str
    sealed: bytes
    status: str
    operation_id: str
    error: str | None
    created_at: datetime
    updated_at: datetime


def _row(r: Record) -> CredentialRow:
    return CredentialRow(
        id=r["id"],
        instance_id=r["instance_id"],
        name=r["name"],
        username=r["username"],
        sealed=bytes(r["sealed"]),
        status=r["status"],
        operation_id=r["operation_id"],
        error=r["error"],
        created_at=r["created_at"],
        updated_at=r["updated_at"],
    )


# The instance must be live and, with an owner, theirs: another user's is never seen.
_VISIBLE = (
    "SELECT c.* FROM instance_credentials c JOIN instances i ON i.id = c.instance_id"
    " WHERE c.removed_at IS NULL AND i.deleted_at IS NULL AND ($1::bigint IS NULL OR i.owner_id = $1)"
)


async def get(db: Executor, instance_id: str, name: str, *, owner_id: int | None) -> CredentialRow | None:
    row = await db.fetchrow(f"{_VISIBLE} AND c.instance_id = $2 AND c.name = $3", owner_id, instance_id, name)
    return _row(row) if row else None


async def get_by_id(db: Executor, credential_id: str) -> CredentialRow | None:
    """For the worker: also a removed one (its operation still names it)."""
    row = await db.fetchrow("SELECT * FROM instance_credentials WHERE id = $1", credential_id)
    return _row(row) if row else None


async def of_instance(db: Executor, instance_id: str, *, owner_id: int | None) -> list[CredentialRow]:
    rows = await db.fetch(
        f"{_VISIBLE} AND c.instance_id = $2 ORDER BY c.created_at, c.id", owner_id, instance_id
    )
    return [_row(r) for r in rows]


async def count_live(db: Executor, instance_id: str) -> int:
    value = await db.fetchval(
        "SELECT count(*) FROM instance_credentials WHERE instance_id = $1 AND removed_at IS NULL", instance_id
    )
    return int(value)


async def insert(
    db: Executor,
    *,
    id: str,
    instance_id: str,
    name: str,
    username: str,
    sealed: bytes,
    operation_id: str,
) -> CredentialRow:
    row = await db.fetchrow(
        "INSERT INTO instance_credentials (id, instance_id, name, username, sealed, status, operation_id)"
        " VALUES ($1, $2, $3, $4, $5, 'creating', $6) RETURNING *",
        id,
        instance_id,
        name,
        username,
        sealed,
        operation_id,
    )
    assert row is not None
    return _row(row)


async def set_status(
    db: Executor,
    credential_id: str,
    status: str,
    *,
    operation_id: str | None = None,
    error: str | None = None,
    only_from: tuple[str, ...] | None = None,
) -> bool:
    """`operation_id`: the operation now acting on it (kept when None)."""
    result = await db.execute(
        "UPDATE instance_credentials SET status = $2, error = $3, operation_id = coalesce($4, operation_id),"
        " updated_at = now() WHERE id = $1 AND removed_at IS NULL"
        " AND ($5::text[] IS NULL OR status = ANY($5))",
        credential_id,
        status,
        error,
        operation_id,
        list(only_from) if only_from else None,
    )
    return result.endswith(" 1")


async def rebind(db: Executor, credential_id: str, *, sealed: bytes, operation_id: str) -> CredentialRow:
    """A failed credential asked for again: same user (whatever its failed bind left on the
    server is overwritten), new password, new bind."""
    row = await db.fetchrow(
        "UPDATE instance_credentials SET status = 'creating', error = NULL, sealed = $2, operation_id = $3,"
        " created_at = now(), updated_at = now() WHERE id = $1 AND removed_at IS NULL RETURNING *",
        credential_id,
        sealed,
        operation_id,
    )
    assert row is not None
    return _row(row)


async def remove(db: Executor, credential_id: str) -> None:
    """The server no longer has the user: the name is free again."""
    await db.execute(
        "UPDATE instance_credentials SET removed_at = now(), updated_at = now()"
        " WHERE id = $1 AND removed_at IS NULL",
        credential_id,
    )


async def remove_all(db: Executor, instance_id: str) -> None:
    """The instance is gone, and its users with it."""
    await db.execute(
        "UPDATE instance_credentials SET removed_at = now(), updated_at = now()"
        " WHERE instance_id = $1 AND removed_at IS NULL",
        instance_id,
    )
