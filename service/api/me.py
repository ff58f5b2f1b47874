"""/api/v1/me: who the token belongs to, with quota and usage; changing one's own password."""

from __future__ import annotations

from aiohttp import web

from .. import crypto
from ..db import tokens, users
from ..errors import Conflict, Forbidden, NotFound
from ..monitoring.gateway import AUTH_FAILURE, AuthFailure
from .account_models import ChangePasswordRequest
from .account_views import account_view, quota_defaults
from .auth import bearer_token, check_password, current_user
from .context import passwords, services
from .contract import contract, respond
from .errors import read_json
from .models import User as UserView
from .schemas import parse

routes = web.RouteTableDef()


@routes.get("/api/v1/me")
@contract("The caller's account, quota and usage", responses={200: UserView}, errors=(401,), tags=("auth",))
async def me(request: web.Request) -> web.Response:
    svc = services(request)
    account = await users.account(svc.reads, current_user(request).username)
    if account is None:
        raise NotFound("user")
    return respond(UserView, account_view(account, quota_defaults(svc.settings)))


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
    svc = services(request)
    user = current_user(request)
    found = await check_password(request, user.username, body.current_password)
    if found is None:
        request[AUTH_FAILURE] = AuthFailure("wrong current password", user.username)
        message = "the current password is wrong"
        raise Forbidden(message, code="invalid_credentials", field="current_password")
    new_hash = await passwords(request).hash(body.new_password)
    keep = crypto.token_digest(bearer_token(request))
    async with svc.pool.acquire() as conn, conn.transaction():
        if not await users.replace_password(conn, user.id, found.password_hash, new_hash):
            raise Conflict("the password changed meanwhile; try again")
        await tokens.revoke_all(conn, user.id, keep=keep)
    svc.tokens.drop_user(user.id)  # this request's token stays valid: it is looked up again
    return web.Response(status=204)
