"""What a request leaves for the monitoring gateway (service/monitoring/gateway.py) to read
once it has been answered: the error type of a 5xx, the fields of a 422, an authentication
failure, and whether it is held open on purpose. Set by the error middleware, the
accounts endpoints and the event stream."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web


@dataclass(frozen=True)
class AuthFailure:
    reason: str
    username: str | None = None  # the user name tried at a login; None for bad tokens


ERROR_TYPE = web.RequestKey("dbvend_error_type", str)  # exception class or error code of a 5xx
REJECTED_FIELDS = web.RequestKey("dbvend_rejected_fields", list)  # fields of a 422
AUTH_FAILURE = web.RequestKey("dbvend_auth_failure", AuthFailure)
# Set by a handler that holds the request open on purpose (the event stream): never slow.
LONG_LIVED = web.RequestKey("dbvend_long_lived", bool)
