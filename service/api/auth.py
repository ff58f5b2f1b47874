"""Bearer-token authentication, login/logout, and password checks behind the guessing brake."""

from __future__ import annotations

import logging
import re

from aiohttp import web

from .. import crypto
from ..db import tokens, users
from ..db.users import Credentials, User
from ..errors import Forbidden, Unauthorized
from ..monitoring.gateway import AUTH_FAILURE, AuthFailure
from ..passwords import Busy
from .context import passwords, services
from .contract import contract, contract_of, respond
from .errors import Handler, read_json
from .models import Token
from .schemas import LoginRequest, parse
from .throttle import THROTTLE, Throttled

log = logging.getLogger(__name__)

USER = web.RequestKey("user", User)
WRONG_CREDENTIALS = "wrong username or password"
# What crypto.new_token() gives out (urlsafe base64), with room to spare.
_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,256}")

routes = web.RouteTableDef()


def current_user(request: web.Request) -> User:
    return request[USER]


def require_admin(request: web.Request) -> User:
    user = current_user(request)
    if not user.is_admin:
        raise Forbidden("this route is for administrators")
    return user


def owner_filter(user: User) -> int | None:
    """Admins see every instance; everyone else only their own."""
    return None if user.is_admin else user.id


def bearer_token(request: web.Request) -> str:
    return request.headers.get("Authorization", "").partition(" ")[2].strip()


# A handler marked so may get a WebSocket upgrade without an Authorization header (browsers
# cannot set one): it must then authenticate the first message itself (`authenticate`).
_FIRST_MESSAGE = "__dbvend_token_in_first_message__"


def token_in_first_message(handler: Handler) -> Handler:
    setattr(handler, _FIRST_MESSAGE, True)
    return handler


def _websocket_without_token(request: web.Request) -> bool:
    return (
        bool(getattr(request.match_info.handler, _FIRST_MESSAGE, False))
        and "Authorization" not in request.headers
        and request.headers.get("Upgrade", "").lower() == "websocket"
    )


async def authenticate(request: web.Request, token: str) -> User | None:
    """The user the token belongs to, or None (the failure noted for the monitoring gateway)."""
    if not _TOKEN.fullmatch(token):  # undecodable header bytes would not even hash
        request[AUTH_FAILURE] = AuthFailure("malformed token")
        return None
    svc = services(request)
    digest = crypto.token_digest(token)
    user = svc.tokens.get(digest)
    if user is not None:
        return user
    found = await tokens.user_and_expiry(svc.reads, digest)
    if found is None:
        request[AUTH_FAILURE] = AuthFailure("invalid or expired token")
        return None
    user, expires_at = found
    svc.tokens.put(digest, user, expires_at)
    return user


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    declared = contract_of(request.match_info.handler)
    # The contract says which routes need no token (one declaration, also in the document).
    if not request.path.startswith("/api/v1/") or (declared is not None and declared.public):
        return await handler(request)
    if _websocket_without_token(request):
        return await handler(request)
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    challenge = {"WWW-Authenticate": 'Bearer realm="dbvend"'}
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized("send Authorization: Bearer <token> (POST /api/v1/auth/login)", headers=challenge)
    user = await authenticate(request, token)
    if user is None:
        raise Unauthorized("the token is invalid or expired", headers=challenge)
    request[USER] = user
    return await handler(request)


async def check_password(request: web.Request, username: str, password: str) -> Credentials | None:
    """The user's credentials when `password` is theirs and the account is enabled, else None.

    The guess is charged to the brake before argon2 runs and refunded only on success. An
    unknown name is verified against a dummy hash and a disabled user's password is still
    checked, so neither differs from a wrong password in time, answer or budget."""
    client = request.remote or "unknown"
    throttle = request.app[THROTTLE]
    try:
        attempt = throttle.reserve(username, client)
    except Throttled:
        # Refused attempts are events too: a burst keeps showing while the brake holds.
        request[AUTH_FAILURE] = AuthFailure("too many failed logins (throttled)", username[:64])
        raise
    try:
        found = await users.credentials(services(request).pool, username)
        password_hash = found.password_hash if found else crypto.DUMMY_PASSWORD_HASH
        ok = await passwords(request).verify(password_hash, password)
    except Busy:
        throttle.cancel(attempt)
        raise
    except BaseException:
        throttle.failed(attempt)  # the guess may have been evaluated: it stays spent
        raise
    if found is None or not ok or found.disabled:
        throttle.failed(attempt)
        log.info("failed password check for %r from %s", username[:64], client)
        return None
    throttle.succeeded(attempt)
    return found


@routes.post("/api/v1/auth/login")
@contract(
    "Log in: a bearer token for the other routes",
    responses={200: Token},
    errors=(400, 401, 415, 422, 429, 503),
    request=LoginRequest,
    public=True,
    tags=("auth",),
    description="Wrong passwords are braked per account and address, per account and per address"
    " (429 with Retry-After); a disabled account answers like a wrong password.",
)
async def login(request: web.Request) -> web.Response:
    body = parse(LoginRequest, await read_json(request))
    svc = services(request)
    found = await check_password(request, body.username, body.password)
    expires_at = None
    token = crypto.new_token()
    if found is not None:
        # Issued only if the account is still enabled with the password just verified.
        expires_at = await tokens.create(
            svc.pool,
            crypto.token_digest(token),
            found.user.id,
            svc.settings.token_ttl_seconds,
            password_hash=found.password_hash,
        )
    if expires_at is None:
        request[AUTH_FAILURE] = AuthFailure(WRONG_CREDENTIALS, body.username[:64])
        raise Unauthorized(WRONG_CREDENTIALS, code="invalid_credentials")
    return respond(Token, {"token": token, "token_type": "Bearer", "expires_at": expires_at})


@routes.post("/api/v1/auth/logout")
@contract("Revoke the token of this request", responses={204: None}, errors=(401,), tags=("auth",))
async def logout(request: web.Request) -> web.Response:
    svc, digest = services(request), crypto.token_digest(bearer_token(request))
    svc.tokens.drop(digest)
    await tokens.revoke(svc.pool, digest)
    svc.tokens.drop(digest)  # a request that raced the UPDATE may have cached it meanwhile
    return web.Response(status=204)
