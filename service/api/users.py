"""Accounts, created by administrators."""

from __future__ import annotations

import asyncio

from aiohttp import web

from .. import crypto
from ..db import users
from .auth import require_admin, user_view
from .context import services
from .contract import contract, respond
from .errors import ApiError, read_json
from .models import User, UserList
from .schemas import CreateUserRequest, parse

routes = web.RouteTableDef()


@routes.post("/api/v1/users")
@contract(
    "Create a user (admin)", admin=True, request=CreateUserRequest, responses={201: User}, errors=(409,)
)
async def create_user(request: web.Request) -> web.Response:
    require_admin(request)
    body = parse(CreateUserRequest, await read_json(request))
    password_hash = await asyncio.to_thread(crypto.hash_password, body.password)
    user = await users.create(services(request).pool, body.username, password_hash, is_admin=body.is_admin)
    if user is None:
        raise ApiError(409, f"user {body.username!r} exists already")
    return respond(User, user_view(user), status=201)


@routes.get("/api/v1/users")
@contract("List users (admin)", admin=True, responses={200: UserList})
async def list_users(request: web.Request) -> web.Response:
    require_admin(request)
    found = await users.list_all(services(request).pool)
    return respond(UserList, {"items": [user_view(u) for u in found]})
