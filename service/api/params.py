"""Query-string parameters, validated like bodies (422 naming the field)."""

from __future__ import annotations

from collections.abc import Sequence

from aiohttp import web

from ..engines import FieldError
from .errors import not_found, validation


def int_query(request: web.Request, name: str, default: int | None, low: int, high: int) -> int | None:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    # ASCII digits only: int() would also read "١٢", "1_000" and " 12 ".
    digits = raw.removeprefix("-")
    if not (0 < len(digits) <= 19 and digits.isascii() and digits.isdigit()):
        raise validation([FieldError(name, "must be an integer")])
    value = int(raw)
    if not low <= value <= high:
        raise validation([FieldError(name, f"must be between {low} and {high}")])
    return value


def choice_query(request: web.Request, name: str, choices: Sequence[str]) -> str | None:
    value = request.query.get(name) or None
    if value is not None and value not in choices:
        raise validation([FieldError(name, f"must be one of: {', '.join(choices)}")])
    return value


def path_int(request: web.Request, name: str, what: str) -> int:
    """A numeric id from the path; anything else is simply not found."""
    raw = request.match_info[name]
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 18:
        raise not_found(what)
    return int(raw)
