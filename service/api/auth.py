"""Bearer-token authentication, login/logout/me, and a brake on password guessing."""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections import defaultdict, deque

from aiohttp import web

from .. import crypto
from ..db import tokens, users
from ..db.users import User
from ..monitoring.gateway import AUTH_FAILURE, AuthFailure
from .context import services
from .errors import ApiError, Handler, read_json
from .schemas import LoginRequest, parse

log = logging.getLogger(__name__)

USER = web.RequestKey("user", User)
# What crypto.new_token() gives out (urlsafe base64), with room to spare.
_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,256}")
PUBLIC = {"/api/v1/auth/login", "/api/v1/openapi.json"}

routes = web.RouteTableDef()


def current_user(request: web.Request) -> User:
    return request[USER]


def require_admin(request: web.Request) -> User:
    user = current_user(request)
    if not user.is_admin:
        raise ApiError(403, "this route is for administrators")
    return user


def owner_filter(user: User) -> int | None:
    """Admins see every instance; everyone else only their own."""
    return None if user.is_admin else user.id


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if not request.path.startswith("/api/v1/") or request.path in PUBLIC:
        return await handler(request)
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    challenge = {"WWW-Authenticate": 'Bearer realm="dbvend"'}
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise ApiError(401, "send Authorization: Bearer <token> (POST /api/v1/auth/login)", headers=challenge)
    if not _TOKEN.fullmatch(token):  # undecodable header bytes would not even hash
        request[AUTH_FAILURE] = AuthFailure("malformed token")
        raise ApiError(401, "the token is invalid or expired", headers=challenge)
    user = await tokens.user_for(services(request).pool, crypto.token_digest(token))
    if user is None:
        request[AUTH_FAILURE] = AuthFailure("invalid or expired token")
        raise ApiError(401, "the token is invalid or expired", headers=challenge)
    request[USER] = user
    return await handler(request)


class LoginThrottle:
    """At most `limit` failed logins per client address in `window` seconds."""

    def __init__(self, limit: int = 10, window: float = 60.0) -> None:
        self.limit = limit
        self.window = window
        self._failures: dict[str, deque[float]] = defaultdict(deque)

    def _recent(self, key: str) -> deque[float]:
        stamps = self._failures[key]
        cutoff = time.monotonic() - self.window
        while stamps and stamps[0] < cutoff:
            stamps.popleft()
        return stamps

    def check(self, key: str) -> None:
        stamps = self._recent(key)
        if len(stamps) >= self.limit:
            retry = max(1, int(stamps[0] + self.window - time.monotonic()) + 1)
            raise ApiError(
                429, "too many failed logins; try again later", headers={"Retry-After": str(retry)}
            )

    def failed(self, key: str) -> None:
        self._recent(key).append(time.monotonic())

    def succeeded(self, key: str) -> None:
        self._failures.pop(key, None)


THROTTLE = web.AppKey("login_throttle", LoginThrottle)


@routes.post("/api/v1/auth/login")
async def login(request: web.Request) -> web.Response:
    body = parse(LoginRequest, await read_json(request))
    svc = services(request)
    throttle = request.app[THROTTLE]
    client = request.remote or "unknown"
    try:
        throttle.check(client)
    except ApiError:
        # Refused attempts count too: a burst keeps showing while the throttle holds.
        request[AUTH_FAILURE] = AuthFailure("too many failed logins (throttled)", body.username[:64])
        raise
    found = await users.credentials(svc.pool, body.username)
    password_hash = found[1] if found else crypto.DUMMY_PASSWORD_HASH
    ok = await asyncio.to_thread(crypto.verify_password, password_hash, body.password)
    if not found or not ok:
        throttle.failed(client)
        log.info("failed login for %r from %s", body.username[:64], client)
        request[AUTH_FAILURE] = AuthFailure("wrong username or password", body.username[:64])
        raise ApiError(401, "wrong username or password", code="invalid_credentials")
    throttle.succeeded(client)
    user = found[0]
    token = crypto.new_token()
    expires_at = await tokens.create(
        svc.pool, crypto.token_digest(token), user.id, svc.settings.token_ttl_seconds
    )
    return web.json_response({"token": token, "token_type": "Bearer", "expires_at": expires_at.isoformat()})


@routes.post("/api/v1/auth/logout")
async def logout(request: web.Request) -> web.Response:
    token = request.headers["Authorization"].partition(" ")[2].strip()
    await tokens.revoke(services(request).pool, crypto.token_digest(token))
    return web.Response(status=204)


def user_view(user: User) -> dict[str, object]:
    return {"username": user.username, "is_admin": user.is_admin, "created_at": user.created_at.isoformat()}


@routes.get("/api/v1/me")
async def me(request: web.Request) -> web.Response:
    return web.json_response(user_view(current_user(request)))
