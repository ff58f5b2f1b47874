"""API tokens, stored only as SHA-256 digests."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from .users import User

if TYPE_CHECKING:
    from . import Executor


async def create(
    db: Executor, digest: bytes, user_id: int, ttl_seconds: int, *, password_hash: str | None = None
) -> datetime | None:
    """The new token's expiry, or None when the user is disabled — or, given the hash the
    caller verified, when the password changed since: a login that raced a disable or a
    password change gets no token that would outlive it."""
    expires: datetime | None = await db.fetchval(
        "INSERT INTO api_tokens (token_hash, user_id, expires_at)"
        " SELECT $1, u.id, now() + make_interval(secs => $3) FROM users u"
        " WHERE u.id = $2 AND u.disabled_at IS NULL AND ($4::text IS NULL OR u.password_hash = $4)"
        " RETURNING expires_at",
        digest,
        user_id,
        ttl_seconds,
        password_hash,
    )
    return expires


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
