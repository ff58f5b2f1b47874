"""/api/v1/auth/login|logout and /api/v1/me: tokens for a password behind the guessing brake,
who the token belongs to (with quota and usage), changing one's own password."""

from __future__ import annotations

from aiohttp import web

from ..db.users import Credentials
from ..errors import Forbidden, Unauthorized
from ..passwords import PasswordPool
from ..web.body import read_json
from ..web.contract import contract, respond
from ..web.identity import bearer_token, current_user
from ..web.notes import AUTH_FAILURE, AuthFailure
from ..web.schemas import parse
from .schemas import ChangePasswordRequest, LoginRequest, Token
from .schemas import User as UserView
from .service import AccountService
from .throttle import LoginThrottle, Throttled
from .views import account_view

SERVICE = web.AppKey("accounts", AccountService)
# The brake and argon2's own threads (service/passwords.py), the service's: tests read them.
THROTTLE = web.AppKey("login_throttle", LoginThrottle)
PASSWORDS = web.AppKey("password_pool", PasswordPool)
WRONG_CREDENTIALS = "wrong username or password"

routes = web.RouteTableDef()


def accounts(request: web.Request) -> AccountService:
    return request.app[SERVICE]


async def check_password(request: web.Request, username: str, password: str) -> Credentials | None:
    """AccountService.check_password for this client, a refusal by the brake noted for the
    monitoring gateway (refused attempts are events too: a burst keeps showing while the
    brake holds)."""
    try:
        return await accounts(request).check_password(username, password, request.remote or "unknown")
    except Throttled:
        request[AUTH_FAILURE] = AuthFailure("too many failed logins (throttled)", username[:64])
        raise


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
    found = await check_password(request, body.username, body.password)
    # Issued only if the account is still enabled with the password just verified.
    issued = await accounts(request).issue_token(found) if found is not None else None
    if issued is None:
        request[AUTH_FAILURE] = AuthFailure(WRONG_CREDENTIALS, body.username[:64])
        raise Unauthorized(WRONG_CREDENTIALS, code="invalid_credentials")
    token, expires_at = issued
    return respond(Token, {"token": token, "token_type": "Bearer", "expires_at": expires_at})


@routes.post("/api/v1/auth/logout")
@contract("Revoke the token of this request", responses={204: None}, errors=(401,), tags=("auth",))
async def logout(request: web.Request) -> web.Response:
    await accounts(request).revoke(bearer_token(request))
    return web.Response(status=204)


@routes.get("/api/v1/me")
@contract("The caller's account, quota and usage", responses={200: UserView}, errors=(401,), tags=("auth",))
async def me(request: web.Request) -> web.Response:
    svc = accounts(request)
    account = await svc.own_account(current_user(request))
    return respond(UserView, account_view(account, svc.quota_defaults))


@routes.post("/api/v1/me/password")
@contract(
    "Change your own password",
    responses={204: None},
    errors=(400, 401, 403, 409, 415, 422, 429, 503),
    request=ChangePasswordRequest,
    tags=("auth",),
    description="The current password is checked behind the same brake as a login. Every other"
    " token of the user is revoked; the token of this request stays valid.",
)
async def change_password(request: web.Request) -> web.Response:
    body = parse(ChangePasswordRequest, await read_json(request))
    user = current_user(request)
    found = await check_password(request, user.username, body.current_password)
    if found is None:
        request[AUTH_FAILURE] = AuthFailure("wrong current password", user.username)
        message = "the current password is wrong"
        raise Forbidden(message, code="invalid_credentials", field="current_password")
    await accounts(request).replace_password(user, found, body.new_password, bearer_token(request))
    return web.Response(status=204)
