"""One JSON error shape for every failure:
{"error": {"code", "message", "details": [{"field", "message"}], "request_id"}}."""

from __future__ import annotations

import itertools
import json
import logging
import math
import re
import secrets
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from aiohttp import web

from ..engines import FieldError, SettingsError
from ..monitoring.gateway import ERROR_TYPE, REJECTED_FIELDS
from .text import MAX_JSON_DEPTH, TooDeep, bad_json_string

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
REQUEST_ID = web.RequestKey("request_id", str)

_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "too_many_requests",
    503: "unavailable",
}


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        message: str,
        *,
        code: str | None = None,
        details: Iterable[FieldError] = (),
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code or _CODES.get(status, "error")
        self.message = message
        self.details = list(details)
        self.headers = headers or {}


def not_found(what: str) -> ApiError:
    return ApiError(404, f"{what} not found")


MAX_DETAILS = 20  # a 64 KiB body of unknown keys would otherwise answer thousands


def validation(errors: Iterable[FieldError]) -> ApiError:
    errors = list(errors)
    more = len(errors) - MAX_DETAILS
    errors = errors[:MAX_DETAILS]
    summary = "; ".join(f"{e.field}: {e.message}" for e in errors)
    if more > 0:
        summary += f"; and {more} more"
    return ApiError(422, f"invalid request: {summary}", details=errors)


def error_response(request_id: str, err: ApiError, *, broker: bool = False) -> web.Response:
    if broker:
        # The service broker's clients read OSB's shape, and OSB calls a malformed request 400.
        status = 400 if err.status == 422 else err.status
        return web.json_response({"description": err.message}, status=status, headers=err.headers)
    body: dict[str, Any] = {"code": err.code, "message": err.message, "request_id": request_id}
    if err.details:
        body["details"] = [{"field": d.field, "message": d.message} for d in err.details]
    return web.json_response({"error": body}, status=err.status, headers=err.headers)


def _noted(request: web.Request, request_id: str, err: ApiError) -> web.Response:
    """The error response, with what the monitoring gateway records about it."""
    if err.status == 422:
        request[REJECTED_FIELDS] = [d.field for d in err.details]
    elif err.status >= 500:
        request[ERROR_TYPE] = err.code
    return error_response(request_id, err, broker=_is_broker(request))


def _is_broker(request: web.Request) -> bool:
    return request.path == "/v2" or request.path.startswith("/v2/")


_REQUEST_ID = re.compile(r"[A-Za-z0-9._:/+=-]{1,64}")


def client_request_id(request: web.Request) -> str | None:
    """The client's X-Request-Id when it is a plain token: it is echoed in a response
    header and stored with events, so anything else is replaced by one of ours."""
    sent = request.headers.get("X-Request-Id", "")
    return sent if _REQUEST_ID.fullmatch(sent) else None


# Request ids need to be unique, not secret: a random prefix per process and a counter
# (secrets.token_hex was a getrandom() call per request).
_ID_PREFIX = secrets.token_hex(4)
_ids = itertools.count(1)


def new_request_id() -> str:
    return f"{_ID_PREFIX}{next(_ids):08x}"


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    request_id = client_request_id(request) or new_request_id()
    request[REQUEST_ID] = request_id
    try:
        response = await handler(request)
    except ApiError as err:
        response = _noted(request, request_id, err)
    except SettingsError as err:
        response = _noted(request, request_id, validation(err.errors))
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        response = _noted(request, request_id, ApiError(exc.status, exc.reason))
    except Exception as exc:
        # The traceback stays in the server log; the client gets the request id to quote,
        # the monitoring gateway the exception's type.
        log.exception("unhandled error in %s %s (request %s)", request.method, request.path, request_id)
        request[ERROR_TYPE] = type(exc).__name__
        response = error_response(
            request_id, ApiError(500, "internal error", code="internal_error"), broker=_is_broker(request)
        )
    response.headers["X-Request-Id"] = request_id
    return response


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
        raise ApiError(415, "send the body as application/json")
    if request.charset is not None and request.charset.lower() not in _JSON_CHARSETS:
        raise ApiError(415, "send the body as UTF-8 JSON")
    raw = await request.read()  # over client_max_size: 413
    try:
        body = decode_json(raw)
        bad = bad_json_string(body)
    except UnicodeDecodeError:
        raise ApiError(400, "the body is not UTF-8", code="invalid_json") from None
    except json.JSONDecodeError:
        raise ApiError(400, "the body is not valid JSON", code="invalid_json") from None
    except ValueError as exc:  # refused above: too deep, a number too long, NaN
        raise ApiError(400, f"the body is not valid JSON: {exc}", code="invalid_json") from None
    if bad is not None:
        raise validation([bad])
    if not isinstance(body, dict):
        raise validation([FieldError("body", "must be a JSON object")])
    return body
