"""Accounts, managed by administrators: create, list, read, set quotas, disable."""

from __future__ import annotations

import re

from aiohttp import web

from ..db import tokens, users
from ..db.users import Account
from ..errors import Conflict, NotFound
from .account_models import UpdateUserRequest
from .account_views import account_view, new_account, quota_defaults
from .auth import require_admin
from .context import passwords, services
from .contract import contract, respond
from .errors import read_json
from .models import User as UserView
from .models import UserList
from .schemas import CreateUserRequest, parse

routes = web.RouteTableDef()

# The users table's own rule; a name outside it cannot exist, so it is a 404 before any query.
_USERNAME = re.compile(r"[a-z][a-z0-9_.-]{1,62}")
_NAME = {"name": "the user name"}


async def _account(request: web.Request) -> Account:
    name = request.match_info["name"]
    found = await users.account(services(request).pool, name) if _USERNAME.fullmatch(name) else None
    if found is None:
        raise NotFound("user")
    return found


@routes.post("/api/v1/users")
@contract(
    "Create a user",
    responses={201: UserView},
    errors=(400, 401, 403, 409, 415, 422, 503),
    request=CreateUserRequest,
    admin=True,
    tags=("users",),
)
async def create_user(request: web.Request) -> web.Response:
    require_admin(request)
    body = parse(CreateUserRequest, await read_json(request))
    password_hash = await passwords(request).hash(body.password)
    svc = services(request)
    user = await users.create(svc.pool, body.username, password_hash, is_admin=body.is_admin)
    if user is None:
        raise Conflict(f"user {body.username!r} exists already")
    return respond(UserView, account_view(new_account(user), quota_defaults(svc.settings)), status=201)


@routes.get("/api/v1/users")
@contract(
    "Every user, with quota and usage",
    responses={200: UserList},
    errors=(401, 403),
    admin=True,
    tags=("users",),
)
async def list_users(request: web.Request) -> web.Response:
    require_admin(request)
    svc = services(request)
    defaults = quota_defaults(svc.settings)
    found = await users.list_accounts(svc.pool)
    return respond(UserList, {"items": [account_view(a, defaults) for a in found]})


@routes.get("/api/v1/users/{name}")
@contract(
    "One user, with quota and usage",
    responses={200: UserView},
    errors=(401, 403, 404),
    path=_NAME,
    admin=True,
    tags=("users",),
)
async def get_user(request: web.Request) -> web.Response:
    require_admin(request)
    account = await _account(request)
    return respond(UserView, account_view(account, quota_defaults(services(request).settings)))


@routes.patch("/api/v1/users/{name}")
@contract(
    "Set a user's quota, or disable or re-enable the user",
    responses={200: UserView},
    errors=(400, 401, 403, 404, 409, 415, 422),
    request=UpdateUserRequest,
    path=_NAME,
    admin=True,
    tags=("users",),
    description="quota.instances / quota.memory_mb / quota.backup_mb: a number, or null for the"
    " configured default; a key left out is kept. disabled: true revokes every token of the user at"
    " once and refuses its logins; the user's instances keep running. An administrator cannot"
    " disable themself.",
)
async def update_user(request: web.Request) -> web.Response:
    admin = require_admin(request)
    body = parse(UpdateUserRequest, await read_json(request))
    account = await _account(request)
    if body.disabled and account.user.id == admin.id:
        message = "you cannot disable your own account"
        raise Conflict(message, field="disabled")
    quota = body.quota
    given = quota.model_fields_set if quota is not None else set()
    svc = services(request)
    async with svc.pool.acquire() as conn, conn.transaction():
        await users.update_account(
            conn,
            account.user.id,
            quota_instances=quota.instances if quota is not None else None,
            set_instances="instances" in given,
            quota_memory_mb=quota.memory_mb if quota is not None else None,
            set_memory="memory_mb" in given,
            quota_backup_mb=quota.backup_mb if quota is not None else None,
            set_backup="backup_mb" in given,
            disabled=body.disabled,
        )
        if body.disabled:
            await tokens.revoke_all(conn, account.user.id)
    svc.tokens.drop_user(account.user.id)  # disabled, or its rights changed: look it up again
    updated = await users.account(svc.pool, account.user.username)
    assert updated is not None
    return respond(UserView, account_view(updated, quota_defaults(svc.settings)))
