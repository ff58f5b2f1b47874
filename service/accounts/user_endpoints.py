"""/api/v1/users: accounts, managed by administrators: create, list, read, set quotas, disable."""

from __future__ import annotations

from aiohttp import web

from ..web.body import read_json
from ..web.contract import contract, respond
from ..web.identity import require_admin
from ..web.schemas import parse
from .endpoints import accounts
from .schemas import CreateUserRequest, UpdateUserRequest, UserList
from .schemas import User as UserView
from .service import Quotas
from .views import account_view, new_account

routes = web.RouteTableDef()

_NAME = {"name": "the user name"}


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
    svc = accounts(request)
    user = await svc.create_user(body.username, body.password, is_admin=body.is_admin)
    return respond(UserView, account_view(new_account(user), svc.quota_defaults), status=201)


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
    svc = accounts(request)
    defaults = svc.quota_defaults
    return respond(UserList, {"items": [account_view(a, defaults) for a in await svc.accounts()]})


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
    svc = accounts(request)
    account = await svc.account(request.match_info["name"])
    return respond(UserView, account_view(account, svc.quota_defaults))


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
    svc = accounts(request)
    account = await svc.account(request.match_info["name"])
    quota = body.quota
    quotas = (
        Quotas(quota.instances, quota.memory_mb, quota.backup_mb, frozenset(quota.model_fields_set))
        if quota is not None
        else None
    )
    updated = await svc.update_account(admin, account, quotas, body.disabled)
    return respond(UserView, account_view(updated, svc.quota_defaults))
