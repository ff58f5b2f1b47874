"""API tokens, stored only as SHA-256 digests."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from .users import User

if TYPE_CHECKING:
    from asyncpg import Record

    from . import Executor


@dataclass(frozen=True)
class TokenInfo:
    """A live token as its owner sees it: never the token, never its digest."""

    id: int
    name: str | None  # None: a login's token
    created_at: datetime
    expires_at: datetime
    digest: bytes  # to tell the caller's own token; not shown


async def create(
    db: Executor,
    digest: bytes,
    user_id: int,
    ttl_seconds: int,
    *,
    password_hash: str | None = None,
    name: str | None = None,
) -> datetime | None:
    """The new token's expiry, or None when the user is disabled — or, given the hash the
    caller verified, when the password changed since: a login that raced a disable or a
    password change gets no token that would outlive it."""
    expires: datetime | None = await db.fetchval(
        "INSERT INTO api_tokens (token_hash, user_id, expires_at, name)"
        " SELECT $1, u.id, now() + make_interval(secs => $3), $5 FROM users u"
        " WHERE u.id = $2 AND u.disabled_at IS NULL AND ($4::text IS NULL OR u.password_hash = $4)"
        " RETURNING expires_at",
        digest,
        user_id,
        ttl_seconds,
        password_hash,
        name,
    )
    return expires


def _info(r: Record) -> TokenInfo:
    return TokenInfo(r["id"], r["name"], r["created_at"], r["expires_at"], bytes(r["token_hash"]))


async def live_of(db: Executor, user_id: int) -> list[TokenInfo]:
    """The user's tokens that still work, newest first."""
    rows = await db.fetch(
        "SELECT id, name, created_at, expires_at, token_hash FROM api_tokens"
        " WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > now() ORDER BY created_at DESC, id DESC",
        user_id,
    )
    return [_info(r) for r in rows]


async def info(db: Executor, digest: bytes) -> TokenInfo | None:
    row = await db.fetchrow(
        "SELECT id, name, created_at, expires_at, token_hash FROM api_tokens WHERE token_hash = $1", digest
    )
    return _info(row) if row else None


async def revoke_by_id(db: Executor, user_id: int, token_id: int) -> bytes | None:
    """Revoke one live token of the user by its id; its digest (for the token cache), or
    None when the user has no such live token."""
    digest: bytes | None = await db.fetchval(
        "UPDATE api_tokens SET revoked_at = now() WHERE id = $1 AND user_id = $2"
        " AND revoked_at IS NULL AND expires_at > now() RETURNING token_hash",
        token_id,
        user_id,
    )
    return bytes(digest) if digest is not None else None


async def user_for(db: Executor, digest: bytes) -> User | None:
    row = await db.fetchrow(
        "SELECT u.id, u.username, u.is_admin, u.created_at FROM api_tokens t"
        " JOIN users u ON u.id = t.user_id"
        " WHERE t.token_hash = $1 AND t.revoked_at IS NULL AND t.expires_at > now()"
        " AND u.disabled_at IS NULL",
        digest,
    )
    return User(row["id"], row["username"], row["is_admin"], row["created_at"]) if row else None


async def user_and_expiry(db: Executor, digest: bytes) -> tuple[User, datetime] | None:
    """The live token's user and when the token expires (for the per-process cache)."""
    row = await db.fetchrow(
        "SELECT u.id, u.username, u.is_admin, u.created_at, t.expires_at FROM api_tokens t"
        " JOIN users u ON u.id = t.user_id"
        " WHERE t.token_hash = $1 AND t.revoked_at IS NULL AND t.expires_at > now()"
        " AND u.disabled_at IS NULL",
        digest,
    )
    if row is None:
        return None
    return User(row["id"], row["username"], row["is_admin"], row["created_at"]), row["expires_at"]


async def revoke(db: Executor, digest: bytes) -> None:
    await db.execute("UPDATE api_tokens SET revoked_at = now() WHERE token_hash = $1", digest)


async def revoke_all(db: Executor, user_id: int, *, keep: bytes | None = None) -> int:
    """Revoke every live token of the user except `keep`; how many were revoked."""
    result = await db.execute(
        "UPDATE api_tokens SET revoked_at = now()"
        " WHERE user_id = $1 AND revoked_at IS NULL AND ($2::bytea IS NULL OR token_hash <> $2)",
        user_id,
        keep,
    )
    return int(result.rpartition(" ")[2])
