"""One JSON error shape for every failure:
{"error": {"code", "message", "details": [{"field", "message"}], "request_id"}}. The error
middleware is where a DomainError (service/errors.py) becomes that answer."""

from __future__ import annotations

import itertools
import logging
import re
import secrets
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Middleware

from ..errors import DomainError
from .notes import ERROR_TYPE, REJECTED_FIELDS

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

# How a surface other than /api/v1 shapes its errors (the broker's OSB body), by path prefix.
Renderer = Callable[[DomainError], web.Response]


class _HttpFailure(DomainError):
    """What aiohttp itself refused (no route, a method not allowed, a body too large), or a
    crash: answered in the same shape."""

    def __init__(self, status: int, message: str, code: str | None = None) -> None:
        super().__init__(message, code=code or _CODES.get(status, "error"))
        self.status = status


def error_response(request_id: str, err: DomainError) -> web.Response:
    body: dict[str, Any] = {"code": err.code, "message": err.message, "request_id": request_id}
    if err.details:
        body["details"] = [{"field": d.field, "message": d.message} for d in err.details]
    return web.json_response({"error": body}, status=err.status, headers=err.headers)


def note(request: web.Request, err: DomainError) -> None:
    """What the monitoring gateway records about an error answer."""
    if err.status == 422:
        request[REJECTED_FIELDS] = [d.field for d in err.details]
    elif err.status >= 500:
        request[ERROR_TYPE] = err.code


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


def error_middleware(renderers: Mapping[str, Renderer] | None = None) -> Middleware:
    """Every DomainError (and anything else that escapes a handler) becomes the one JSON error
    shape, or, under a prefix of `renderers`, that surface's own (the broker's /v2)."""
    surfaces = dict(renderers or {})

    def render(request: web.Request, request_id: str, err: DomainError) -> web.Response:
        for prefix, renderer in surfaces.items():
            if request.path == prefix or request.path.startswith(prefix + "/"):
                return renderer(err)
        return error_response(request_id, err)

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        request_id = client_request_id(request) or new_request_id()
        request[REQUEST_ID] = request_id
        try:
            response = await handler(request)
        except DomainError as err:
            note(request, err)
            response = render(request, request_id, err)
        except web.HTTPException as exc:
            if exc.status < 400:
                raise
            failure = _HttpFailure(exc.status, exc.reason)
            note(request, failure)
            response = render(request, request_id, failure)
        except Exception as exc:
            # The traceback stays in the server log; the client gets the request id to quote,
            # the monitoring gateway the exception's type.
            log.exception("unhandled error in %s %s (request %s)", request.method, request.path, request_id)
            request[ERROR_TYPE] = type(exc).__name__
            response = render(request, request_id, _HttpFailure(500, "internal error", "internal_error"))
        response.headers["X-Request-Id"] = request_id
        return response

    return middleware
