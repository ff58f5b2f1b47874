"""Path parameters: a numeric id, or not found (query strings go through web/queries.py)."""

from __future__ import annotations

from aiohttp import web

from ..errors import NotFound


def path_int(request: web.Request, name: str, what: str) -> int:
    """A numeric id from the path; anything else is simply not found."""
    raw = request.match_info[name]
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 18:
        raise NotFound(what)
    return int(raw)
