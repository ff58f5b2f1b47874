"""Reading a JSON body: UTF-8 only, bounded (depth, number literals), every string checked
(service/web/text.py); anything else is refused before a handler sees it."""

from __future__ import annotations

import json
import math
from typing import Any

from aiohttp import web

from ..errors import BadRequest, FieldError, Invalid, UnsupportedMedia
from .text import MAX_JSON_DEPTH, TooDeep, bad_json_string

# Longer number literals are refused before Python converts them: a 5,000-digit integer
# raises past the int/str conversion limit, and 1e999 would become infinity.
_MAX_NUMBER_LITERAL = 32
_JSON_CHARSETS = ("utf-8", "utf8")


def _json_int(text: str) -> int:
    if len(text) > _MAX_NUMBER_LITERAL:
        raise ValueError("a number in the body is too long")
    return int(text)


def _json_float(text: str) -> float:
    value = float(text) if len(text) <= _MAX_NUMBER_LITERAL else math.inf
    if not math.isfinite(value):
        raise ValueError("a number in the body is too long or too large")
    return value


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def decode_json(raw: bytes) -> Any:
    """The decoded body; a ValueError for anything that is not plain JSON in UTF-8."""
    try:
        return json.loads(
            raw.decode("utf-8"), parse_int=_json_int, parse_float=_json_float, parse_constant=_no_constant
        )
    except RecursionError:  # thousands of nested brackets
        raise TooDeep(f"the body nests deeper than {MAX_JSON_DEPTH} levels") from None


async def read_json(request: web.Request) -> dict[str, Any]:
    if not request.can_read_body:
        return {}
    if request.content_type not in ("application/json", ""):
        raise UnsupportedMedia("send the body as application/json")
    if request.charset is not None and request.charset.lower() not in _JSON_CHARSETS:
        raise UnsupportedMedia("send the body as UTF-8 JSON")
    raw = await request.read()  # over client_max_size: 413
    try:
        body = decode_json(raw)
        bad = bad_json_string(body)
    except UnicodeDecodeError:
        raise BadRequest("the body is not UTF-8", code="invalid_json") from None
    except json.JSONDecodeError:
        raise BadRequest("the body is not valid JSON", code="invalid_json") from None
    except ValueError as exc:  # refused above: too deep, a number too long, NaN
        raise BadRequest(f"the body is not valid JSON: {exc}", code="invalid_json") from None
    if bad is not None:
        raise Invalid([bad])
    if not isinstance(body, dict):
        raise Invalid([FieldError("body", "must be a JSON object")])
    return body
