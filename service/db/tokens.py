"""API tokens, stored only as SHA-256 digests."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from .users import User

if TYPE_CHECKING:
    from . import Executor


async def create(db: Executor, digest: bytes, user_id: int, ttl_seconds: int) -> datetime:
    expires: datetime = await db.fetchval(
        "INSERT INTO api_tokens (token_hash, user_id, expires_at)"
        " VALUES ($1, $2, now() + make_interval(secs => $3)) RETURNING expires_at",
        digest,
        user_id,
        ttl_seconds,
    )
    return expires


async def user_for(db: Executor, digest: bytes) -> User | None:
    row = await db.fetchrow(
        "SELECT u.id, u.username, u.is_admin, u.created_at FROM api_tokens t"
        " JOIN users u ON u.id = t.user_id"
        " WHERE t.token_hash = $1 AND t.revoked_at IS NULL AND t.expires_at > now()",
        digest,
    )
    return User(row["id"], row["username"], row["is_admin"], row["created_at"]) if row else None


async def revoke(db: Executor, digest: bytes) -> None:
    await db.execute("UPDATE api_tokens SET revoked_at = now() WHERE token_hash = $1", digest)


async def prune_expired(db: Executor) -> None:
    await db.execute("DELETE FROM api_tokens WHERE expires_at < now() - interval '1 day'")
