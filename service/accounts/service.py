"""The accounts domain's one entry point: bearer tokens (who a token belongs to, logins and
logouts), password checks behind the guessing brake, users with their quotas, and the
accounts dbvend makes itself (the first admin, the broker's account).

Other domains use these through an AccountService the runtime gives them; the REST routes
(endpoints.py, user_endpoints.py, middleware.py) are its HTTP side."""

from __future__ import annotations

import asyncio
import logging
import re
import secrets
from dataclasses import dataclass
from datetime import datetime

from .. import crypto
from ..context import Context
from ..db import tokens, users
from ..db.tokens import TokenInfo
from ..db.users import Account, Credentials, User
from ..errors import Conflict, NotFound
from ..operations.quota import QuotaDefaults
from ..passwords import Busy, PasswordPool
from .bootstrap import ensure_admin
from .throttle import LoginThrottle
from .token_cache import TokenCache

log = logging.getLogger(__name__)

# What crypto.new_token() gives out (urlsafe base64), with room to spare.
_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,256}")
# The users table's own rule; a name outside it cannot exist, so it is not found before any query.
_USERNAME = re.compile(r"[a-z][a-z0-9_.-]{1,62}")


@dataclass(frozen=True)
class Authenticated:
    """Who a bearer token belongs to, or why nobody (for the monitoring gateway)."""

    user: User | None
    failure: str | None = None


@dataclass(frozen=True)
class Quotas:
    """The user's changes to an account's quota: a key not `given` keeps its value."""

    instances: int | None = None
    memory_mb: int | None = None
    backup_mb: int | None = None
    given: frozenset[str] = frozenset()


class AccountService:
    def __init__(
        self, ctx: Context, *, passwords: PasswordPool, throttle: LoginThrottle, tokens: TokenCache
    ) -> None:
        self.ctx = ctx
        self.passwords = passwords
        self.throttle = throttle
        self.tokens = tokens

    @property
    def quota_defaults(self) -> QuotaDefaults:
        return QuotaDefaults.of(self.ctx.settings)

    # -- tokens ---------------------------------------------------------------------------
    async def authenticate(self, token: str) -> Authenticated:
        """The user the token belongs to (from this process's cache when it has it)."""
        if not _TOKEN.fullmatch(token):  # undecodable header bytes would not even hash
            return Authenticated(None, "malformed token")
        digest = crypto.token_digest(token)
        user = self.tokens.get(digest)
        if user is not None:
            return Authenticated(user)
        found = await tokens.user_and_expiry(self.ctx.reads, digest)
        if found is None:
            return Authenticated(None, "invalid or expired token")
        user, expires_at = found
        self.tokens.put(digest, user, expires_at)
        return Authenticated(user)

    async def still_valid(self, token: str) -> bool:
        """Whether the token still is a live user's (not revoked, not expired), uncached."""
        return await tokens.user_for(self.ctx.pool, crypto.token_digest(token)) is not None

    async def issue_token(self, found: Credentials) -> tuple[str, datetime] | None:
        """A new token for a user whose password was just verified; None when the account was
        disabled or its password changed meanwhile."""
        token = crypto.new_token()
        expires_at = await tokens.create(
            self.ctx.pool,
            crypto.token_digest(token),
            found.user.id,
            self.ctx.settings.token_ttl_seconds,
            password_hash=found.password_hash,
        )
        return (token, expires_at) if expires_at is not None else None

    async def make_token(self, user: User, name: str, ttl_seconds: int) -> tuple[str, TokenInfo]:
        """A named token for scripts (shown to its owner once); Conflict when the account was
        disabled meanwhile."""
        token = crypto.new_token()
        digest = crypto.token_digest(token)
        if await tokens.create(self.ctx.pool, digest, user.id, ttl_seconds, name=name) is None:
            raise Conflict("the account is disabled")
        made = await tokens.info(self.ctx.pool, digest)
        assert made is not None
        return token, made

    async def tokens_of(self, user: User) -> list[TokenInfo]:
        return await tokens.live_of(self.ctx.pool, user.id)

    async def revoke_token(self, user: User, token_id: int) -> None:
        """One of the user's live tokens, by id (NotFound for any other)."""
        digest = await tokens.revoke_by_id(self.ctx.pool, user.id, token_id)
        if digest is None:
            raise NotFound("token")
        self.tokens.drop(digest)

    async def revoke(self, token: str) -> None:
        digest = crypto.token_digest(token)
        self.tokens.drop(digest)
        await tokens.revoke(self.ctx.pool, digest)
        self.tokens.drop(digest)  # a request that raced the UPDATE may have cached it meanwhile

    # -- passwords ------------------------------------------------------------------------
    async def check_password(self, username: str, password: str, client: str) -> Credentials | None:
        """The user's credentials when `password` is theirs and the account is enabled, else None.

        The guess is charged to the brake before argon2 runs (Throttled when a budget is spent)
        and refunded only on success. An unknown name is verified against a dummy hash and a
        disabled user's password is still checked, so neither differs from a wrong password in
        time, answer or budget. Busy when argon2's pool is full (the guess is given back)."""
        attempt = self.throttle.reserve(username, client)
        try:
            found = await users.credentials(self.ctx.pool, username)
            password_hash = found.password_hash if found else crypto.DUMMY_PASSWORD_HASH
            ok = await self.passwords.verify(password_hash, password)
        except Busy:
            self.throttle.cancel(attempt)
            raise
        except BaseException:
            self.throttle.failed(attempt)  # the guess may have been evaluated: it stays spent
            raise
        if found is None or not ok or found.disabled:
            self.throttle.failed(attempt)
            log.info("failed password check for %r from %s", username[:64], client)
            return None
        self.throttle.succeeded(attempt)
        return found

    async def replace_password(self, user: User, verified: Credentials, new_password: str, keep: str) -> None:
        """The user's new password; every other token of the user is revoked, `keep` stays."""
        new_hash = await self.passwords.hash(new_password)
        async with self.ctx.pool.acquire() as conn, conn.transaction():
            if not await users.replace_password(conn, user.id, verified.password_hash, new_hash):
                raise Conflict("the password changed meanwhile; try again")
            await tokens.revoke_all(conn, user.id, keep=crypto.token_digest(keep))
        self.tokens.drop_user(user.id)  # this request's token stays valid: it is looked up again

    # -- users ----------------------------------------------------------------------------
    async def account(self, username: str) -> Account:
        """NotFound("user") for a name no user has (or can have)."""
        found = await users.account(self.ctx.pool, username) if _USERNAME.fullmatch(username) else None
        if found is None:
            raise NotFound("user")
        return found

    async def own_account(self, user: User) -> Account:
        found = await users.account(self.ctx.reads, user.username)
        if found is None:
            raise NotFound("user")
        return found

    async def accounts(self) -> list[Account]:
        return await users.list_accounts(self.ctx.pool)

    async def create_user(self, username: str, password: str, *, is_admin: bool) -> User:
        password_hash = await self.passwords.hash(password)
        user = await users.create(self.ctx.pool, username, password_hash, is_admin=is_admin)
        if user is None:
            raise Conflict(f"user {username!r} exists already")
        return user

    async def update_account(
        self, admin: User, account: Account, quotas: Quotas | None, disabled: bool | None
    ) -> Account:
        """Quota overrides (a key not given is kept; None: the default) and the disabled mark;
        disabling revokes every token of the user at once. An admin cannot disable themself."""
        if disabled and account.user.id == admin.id:
            raise Conflict("you cannot disable your own account", field="disabled")
        given = quotas.given if quotas is not None else frozenset()
        async with self.ctx.pool.acquire() as conn, conn.transaction():
            await users.update_account(
                conn,
                account.user.id,
                quota_instances=quotas.instances if quotas is not None else None,
                set_instances="instances" in given,
                quota_memory_mb=quotas.memory_mb if quotas is not None else None,
                set_memory="memory_mb" in given,
                quota_backup_mb=quotas.backup_mb if quotas is not None else None,
                set_backup="backup_mb" in given,
                disabled=disabled,
            )
            if disabled:
                await tokens.revoke_all(conn, account.user.id)
        self.tokens.drop_user(account.user.id)  # disabled, or its rights changed: look it up again
        updated = await users.account(self.ctx.pool, account.user.username)
        assert updated is not None
        return updated

    # -- accounts dbvend makes itself -----------------------------------------------------
    async def ensure_admin(self) -> None:
        """The first start: `admin`, when there is no user at all (bootstrap.py)."""
        await ensure_admin(self.ctx.pool, self.ctx.settings)

    async def service_account(self, name: str) -> Account | None:
        """The account dbvend acts as for a protocol adapter (the broker's): made on first use
        with a password no one knows. Read on every call, so an admin disabling it stops the
        adapter at once."""
        found = await users.account(self.ctx.pool, name)
        if found is None:
            password_hash = await asyncio.to_thread(crypto.hash_password, secrets.token_urlsafe(32))
            await users.create(self.ctx.pool, name, password_hash, is_admin=False)
            found = await users.account(self.ctx.pool, name)
        return found
