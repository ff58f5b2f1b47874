"""/api/v1/me/tokens: the caller's own bearer tokens. Logins make one each; a user makes
named ones for scripts and CI (shown once), lists what still works (never a token or its
digest) and revokes any by id. Another user's token id is 404."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from .. import crypto
from ..db.tokens import TokenInfo
from ..web.body import read_json
from ..web.contract import contract, respond
from ..web.identity import bearer_token, current_user
from ..web.params import path_int
from ..web.schemas import parse
from .endpoints import accounts
from .schemas import MAX_TOKEN_DAYS, CreateTokenRequest, NewToken, TokenList

routes = web.RouteTableDef()
_ID = {"id": "token id (GET /me/tokens)"}
DAY = 86400


def token_view(found: TokenInfo, current: bytes) -> dict[str, Any]:
    return {
        "id": found.id,
        "name": found.name,
        "created_at": found.created_at,
        "expires_at": found.expires_at,
        "current": found.digest == current,
    }


@routes.get("/api/v1/me/tokens")
@contract(
    "Your tokens that still work: logins' and named ones, newest first (never the tokens themselves)",
    responses={200: TokenList},
    tags=("auth",),
)
async def list_tokens(request: web.Request) -> web.Response:
    current = crypto.token_digest(bearer_token(request))
    found = await accounts(request).tokens_of(current_user(request))
    return respond(TokenList, {"items": [token_view(t, current) for t in found]})


@routes.post("/api/v1/me/tokens")
@contract(
    "Make a named token for a script or CI",
    description=f"It acts as you until it expires ({MAX_TOKEN_DAYS} days at most) or is revoked; a"
    " password change or a disable revokes it with your other tokens. The token is in this answer only.",
    request=CreateTokenRequest,
    responses={201: NewToken},
    errors=(409,),
    tags=("auth",),
)
async def create_token(request: web.Request) -> web.Response:
    body = parse(CreateTokenRequest, await read_json(request))
    token, made = await accounts(request).make_token(
        current_user(request), body.name, body.expires_in_days * DAY
    )
    view = token_view(made, crypto.token_digest(bearer_token(request)))
    return respond(NewToken, {**view, "token": token}, status=201, headers={"Cache-Control": "no-store"})


@routes.delete("/api/v1/me/tokens/{id}")
@contract(
    "Revoke one of your tokens (this request's own too: that is a logout)",
    path=_ID,
    responses={204: None},
    tags=("auth",),
)
async def revoke_token(request: web.Request) -> web.Response:
    await accounts(request).revoke_token(current_user(request), path_int(request, "id", "token"))
    return web.Response(status=204)
