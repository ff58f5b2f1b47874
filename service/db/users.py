"""Users: names, password hashes, the admin flag."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from asyncpg import Record

    from . import Executor


@dataclass(frozen=True)
class User:
    id: int
    username: str
    is_admin: bool
    created_at: datetime


def _user(row: Record) -> User:
    return User(row["id"], row["username"], row["is_admin"], row["created_at"])


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


async def credentials(db: Executor, username: str) -> tuple[User, str] | None:
    row = await db.fetchrow("SELECT * FROM users WHERE username = $1", username)
    return (_user(row), row["password_hash"]) if row else None


async def list_all(db: Executor) -> list[User]:
    return [_user(r) for r in await db.fetch("SELECT * FROM users ORDER BY id")]


async def set_password(db: Executor, username: str, password_hash: str) -> bool:
    result = await db.execute(
        "UPDATE users SET password_hash = $2 WHERE username = $1", username, password_hash
    )
    return result.endswith(" 1")
