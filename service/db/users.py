"""Users: names, password hashes, the admin flag, quota overrides and the disabled mark."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from . import locks

if TYPE_CHECKING:
    from asyncpg import Record

    from . import Conn, Executor


@dataclass(frozen=True)
class User:
    id: int
    username: str
    is_admin: bool
    created_at: datetime


@dataclass(frozen=True)
class Credentials:
    user: User
    password_hash: str
    disabled: bool


@dataclass(frozen=True)
class Account:
    """A user as an administrator sees it: overrides (None = the default) and live usage."""

    user: User
    disabled: bool
    quota_instances: int | None
    quota_memory_mb: int | None
    used_instances: int
    used_memory_mb: int
    quota_backup_mb: int | None = None
    used_backup_mb: int = 0


def _user(row: Record) -> User:
    return User(row["id"], row["username"], row["is_admin"], row["created_at"])


# Usage per user through the (owner_id) index of live instances, not a scan of all owners.
_ACCOUNT = (
    "SELECT u.*, n.instances AS used_instances, n.memory_mb AS used_memory_mb,"
    " bk.bytes AS used_backup_bytes FROM users u"
    " CROSS JOIN LATERAL ("
    "   SELECT count(*) AS instances, coalesce(sum(i.memory_mb), 0) AS memory_mb FROM instances i"
    "   WHERE i.owner_id = u.id AND i.deleted_at IS NULL"
    " ) n"
    " CROSS JOIN LATERAL ("
    "   SELECT coalesce(sum(b.size_bytes), 0) AS bytes FROM backups b"
    "   WHERE b.owner_id = u.id AND b.deleted_at IS NULL AND b.status = 'completed'"
    " ) bk"
)
_MIB = 1024 * 1024


def _account(row: Record) -> Account:
    return Account(
        user=_user(row),
        disabled=row["disabled_at"] is not None,
        quota_instances=row["quota_instances"],
        quota_memory_mb=row["quota_memory_mb"],
        used_instances=int(row["used_instances"]),
        used_memory_mb=int(row["used_memory_mb"]),
        quota_backup_mb=row["quota_backup_mb"],
        used_backup_mb=-(-int(row["used_backup_bytes"]) // _MIB),
    )


async def lock_first_user(conn: Executor) -> None:
    """Inside a transaction: wait until no other process is making the first user."""
    await locks.hold_for_transaction(conn, locks.FIRST_USER)


async def count(db: Executor) -> int:
    value = await db.fetchval("SELECT count(*) FROM users")
    return int(value)


async def create(db: Executor, username: str, password_hash: str, *, is_admin: bool) -> User | None:
    """The new user, or None when the name is taken."""
    row = await db.fetchrow(
        "INSERT INTO users (username, password_hash, is_admin) VALUES ($1, $2, $3)"
        " ON CONFLICT (username) DO NOTHING RETURNING *",
        username,
        password_hash,
        is_admin,
    )
    return _user(row) if row else None


async def credentials(db: Executor, username: str) -> Credentials | None:
    row = await db.fetchrow("SELECT * FROM users WHERE username = $1", username)
    if row is None:
        return None
    return Credentials(_user(row), row["password_hash"], row["disabled_at"] is not None)


async def account(db: Executor, username: str) -> Account | None:
    row = await db.fetchrow(_ACCOUNT + " WHERE u.username = $1", username)
    return _account(row) if row else None


async def list_accounts(db: Executor) -> list[Account]:
    return [_account(r) for r in await db.fetch(_ACCOUNT + " ORDER BY u.id")]


async def replace_password(conn: Conn, user_id: int, old_hash: str, new_hash: str) -> bool:
    """Compare-and-set: False when the password changed since `old_hash` was verified."""
    result = await conn.execute(
        "UPDATE users SET password_hash = $3 WHERE id = $1 AND password_hash = $2",
        user_id,
        old_hash,
        new_hash,
    )
    return result.endswith(" 1")


async def update_account(
    conn: Conn,
    user_id: int,
    *,
    quota_instances: int | None,
    set_instances: bool,
    quota_memory_mb: int | None,
    set_memory: bool,
    disabled: bool | None,
    quota_backup_mb: int | None = None,
    set_backup: bool = False,
) -> None:
    """Only the fields flagged are written; `disabled=None` leaves the mark as it is."""
    await conn.execute(
        "UPDATE users SET"
        " quota_instances = CASE WHEN $3 THEN $2 ELSE quota_instances END,"
        " quota_memory_mb = CASE WHEN $5 THEN $4 ELSE quota_memory_mb END,"
        " quota_backup_mb = CASE WHEN $8 THEN $7 ELSE quota_backup_mb END,"
        " disabled_at = CASE WHEN $6::boolean IS NULL THEN disabled_at"
        "   WHEN $6 THEN coalesce(disabled_at, now()) ELSE NULL END"
        " WHERE id = $1",
        user_id,
        quota_instances,
        set_instances,
        quota_memory_mb,
        set_memory,
        disabled,
        quota_backup_mb,
        set_backup,
    )


@dataclass(frozen=True)
class Usage:
    quota_instances: int | None
    quota_memory_mb: int | None
    instances: int
    memory_mb: int


async def lock_usage(conn: Conn, user_id: int) -> Usage:
    """The user's overrides and live usage, holding the user's row lock until the transaction
    ends, so concurrent creates by one user are checked one after the other.

    Two statements on purpose: under READ COMMITTED the count takes its snapshot after the
    lock is granted, so it sees the instance a create that held the lock just committed."""
    row = await conn.fetchrow(
        "SELECT quota_instances, quota_memory_mb FROM users WHERE id = $1 FOR NO KEY UPDATE", user_id
    )
    if row is None:
        raise LookupError(f"user {user_id} does not exist")
    used = await conn.fetchrow(
        "SELECT count(*) AS n, coalesce(sum(memory_mb), 0) AS mb FROM instances"
        " WHERE owner_id = $1 AND deleted_at IS NULL",
        user_id,
    )
    assert used is not None
    return Usage(row["quota_instances"], row["quota_memory_mb"], int(used["n"]), int(used["mb"]))


async def usage(db: Executor, user_id: int) -> Usage:
    """lock_usage without the lock: a pre-check (the warm pool's claim re-checks under it)."""
    row = await db.fetchrow(
        "SELECT u.quota_instances, u.quota_memory_mb,"
        " (SELECT count(*) FROM instances i WHERE i.owner_id = u.id AND i.deleted_at IS NULL) AS n,"
        " (SELECT coalesce(sum(memory_mb), 0) FROM instances i WHERE i.owner_id = u.id"
        "   AND i.deleted_at IS NULL) AS mb FROM users u WHERE u.id = $1",
        user_id,
    )
    if row is None:
        raise LookupError(f"user {user_id} does not exist")
    return Usage(row["quota_instances"], row["quota_memory_mb"], int(row["n"]), int(row["mb"]))


async def lock_backup_quota(conn: Conn, user_id: int) -> int | None:
    """The user's backup quota override (None: the default), holding the user's row lock."""
    row = await conn.fetchrow("SELECT quota_backup_mb FROM users WHERE id = $1 FOR NO KEY UPDATE", user_id)
    if row is None:
        raise LookupError(f"user {user_id} does not exist")
    value = row["quota_backup_mb"]
    return int(value) if value is not None else None
