"""Every request's query and path parameters, checked once before any handler runs, so a
new route is covered without doing anything (JSON bodies: `read_json`)."""

from __future__ import annotations

from aiohttp import web

from ..engines.base import field_path
from ..errors import FieldError, Invalid, NotFound
from .errors import Handler
from .text import bad_param

MAX_QUERY_VALUE = 1024
MAX_PATH_VALUE = 128  # ids and names are far shorter


@web.middleware
async def edge_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    errors: list[FieldError] = []
    for name, value in request.query.items():
        if bad_param(name) or bad_param(value):
            errors.append(FieldError(field_path([name]), "contains a control character (NUL included)"))
        elif len(value) > MAX_QUERY_VALUE:
            errors.append(FieldError(field_path([name]), f"is longer than {MAX_QUERY_VALUE} characters"))
    if errors:
        raise Invalid(errors)
    # A path parameter is an id or a name: one that no row can have is simply not found.
    if any(len(v) > MAX_PATH_VALUE or bad_param(v) for v in request.match_info.values()):
        raise NotFound()
    return await handler(request)
