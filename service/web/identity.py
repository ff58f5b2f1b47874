"""Who is asking: the user the accounts middleware (service/accounts/middleware.py) found for
the request's bearer token, and what every route derives from it (admins see everything,
everyone else their own)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from ..db.users import User
from ..errors import Forbidden

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
USER = web.RequestKey("user", User)


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
# cannot set one): it must then authenticate the first message itself.
_FIRST_MESSAGE = "__dbvend_token_in_first_message__"


def token_in_first_message(handler: Handler) -> Handler:
    setattr(handler, _FIRST_MESSAGE, True)
    return handler


def websocket_without_token(request: web.Request) -> bool:
    return (
        bool(getattr(request.match_info.handler, _FIRST_MESSAGE, False))
        and "Authorization" not in request.headers
        and request.headers.get("Upgrade", "").lower() == "websocket"
    )
