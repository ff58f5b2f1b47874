"""One JSON error shape for every failure:
{"error": {"code", "message", "details": [{"field", "message"}], "request_id"}}."""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from aiohttp import web

from ..engines import FieldError, SettingsError
from ..monitoring.gateway import ERROR_TYPE, REJECTED_FIELDS

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


def validation(errors: Iterable[FieldError]) -> ApiError:
    errors = list(errors)
    summary = "; ".join(f"{e.field}: {e.message}" for e in errors)
    return ApiError(422, f"invalid request: {summary}", details=errors)


def error_response(request_id: str, err: ApiError) -> web.Response:
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
    return error_response(request_id, err)


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    request_id = request.headers.get("X-Request-Id", "")[:64] or secrets.token_hex(8)
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
        response = error_response(request_id, ApiError(500, "internal error", code="internal_error"))
    response.headers["X-Request-Id"] = request_id
    return response


async def read_json(request: web.Request) -> dict[str, Any]:
    if not request.can_read_body:
        return {}
    if request.content_type not in ("application/json", ""):
        raise ApiError(415, "send the body as application/json")
    try:
        body = await request.json(loads=json.loads)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise ApiError(400, "the body is not valid JSON", code="invalid_json") from None
    if not isinstance(body, dict):
        raise validation([FieldError("body", "must be a JSON object")])
    return body
