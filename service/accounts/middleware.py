"""Bearer-token authentication of every /api/v1 route whose contract is not public: the
user goes on the request (service/web/identity.py) for the handler, or the answer is 401."""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web
from aiohttp.typedefs import Middleware

from ..db.users import User
from ..errors import Unauthorized
from ..web.contract import contract_of
from ..web.identity import USER, Handler, websocket_without_token
from ..web.notes import AUTH_FAILURE, AuthFailure
from .service import AccountService


async def authenticate(request: web.Request, accounts: AccountService, token: str) -> User | None:
    """The token's user, or None with the failure noted for the monitoring gateway."""
    found = await accounts.authenticate(token)
    if found.user is None:
        request[AUTH_FAILURE] = AuthFailure(found.failure or "invalid or expired token")
    return found.user


def auth_middleware(accounts: Callable[[web.Request], AccountService]) -> Middleware:
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        declared = contract_of(request.match_info.handler)
        # The contract says which routes need no token (one declaration, also in the document).
        if not request.path.startswith("/api/v1/") or (declared is not None and declared.public):
            return await handler(request)
        if websocket_without_token(request):
            return await handler(request)
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        challenge = {"WWW-Authenticate": 'Bearer realm="dbvend"'}
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise Unauthorized(
                "send Authorization: Bearer <token> (POST /api/v1/auth/login)", headers=challenge
            )
        user = await authenticate(request, accounts(request), token)
        if user is None:
            raise Unauthorized("the token is invalid or expired", headers=challenge)
        request[USER] = user
        return await handler(request)

    return middleware
