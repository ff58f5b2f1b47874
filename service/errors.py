"""One taxonomy for every refusal a client can get. A DomainError carries what the answer
says: the HTTP status, the error code, the message, the field(s) it names and the headers
(Retry-After). Services raise them; the /api/v1 error middleware (service/web/errors.py)
and the broker's OSB middleware (service/broker/protocol.py) each map them once, and no
handler catches one to translate it.

Errors that never reach a client (a lost lease, a refused play, a store file that does not
authenticate) are not DomainErrors: whoever handles them decides what, if anything, the
client is told."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class FieldError:
    field: str
    message: str


class DomainError(Exception):
    """A refusal: `message` is what the client reads; `details` name the fields (by default
    the one `field`, with the message)."""

    status = 400
    code = "bad_request"
    default_headers: Mapping[str, str] = {}

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        details: Iterable[FieldError] | None = None,
        code: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        if details is None:
            details = [FieldError(field, message)] if field is not None else []
        self.details = list(details)
        self.code = code or type(self).code
        self.headers = dict(type(self).default_headers if headers is None else headers)


class BadRequest(DomainError):
    """400: the request cannot be read (not JSON, not UTF-8)."""


class Unauthorized(DomainError):
    status = 401
    code = "unauthorized"


class Forbidden(DomainError):
    status = 403
    code = "forbidden"


class QuotaExceeded(Forbidden):
    """Over one of the owner's limits; `field` names it (quota.instances, quota.memory_mb, ...)."""

    code = "quota_exceeded"


class NotFound(DomainError):
    """No such thing for this caller (another owner's is the same)."""

    status = 404
    code = "not_found"

    def __init__(self, what: str | None = None) -> None:
        super().__init__(f"{what} not found" if what else "not found")
        self.what = what or ""


class Conflict(DomainError):
    """The request clashes with the current state (a name in use, an operation in flight, a
    status the request cannot start from)."""

    status = 409
    code = "conflict"


class NoCapacity(DomainError):
    """No Docker host that is up can take a new instance now; worth asking again later."""

    status = 503
    code = "no_capacity"
    default_headers: Mapping[str, str] = {"Retry-After": "30"}


class HostFull(NoCapacity):
    """The instance's own host has not the memory a change needs (a start, a bigger size):
    the instance cannot move, so it is a conflict with the host's state, naming `capacity`."""

    status = 409
    default_headers: Mapping[str, str] = {}

    def __init__(self, message: str) -> None:
        super().__init__(message, field="capacity")


class UnsupportedMedia(DomainError):
    status = 415
    code = "unsupported_media_type"


MAX_DETAILS = 20  # a 64 KiB body of unknown keys would otherwise answer thousands


class Invalid(DomainError):
    """422: fields that do not validate, each named. The message sums up the first
    MAX_DETAILS of them."""

    status = 422
    code = "validation_error"

    def __init__(
        self, errors: Iterable[FieldError], *, message: str | None = None, code: str | None = None
    ) -> None:
        self.errors = list(errors)
        shown = self.errors[:MAX_DETAILS]
        if message is None:
            message = "invalid request: " + "; ".join(f"{e.field}: {e.message}" for e in shown)
            if len(self.errors) > MAX_DETAILS:
                message += f"; and {len(self.errors) - MAX_DETAILS} more"
        super().__init__(message, details=shown, code=code)


class SettingsError(Invalid, ValueError):
    """What a client asked for cannot be used (settings, a plan, a name); each error names its
    field. Its str() is the bare list ("settings.x: ...; ..."), the way operations quote it."""

    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__(errors)
        self.args = ("; ".join(f"{e.field}: {e.message}" for e in errors),)


class TooManyRequests(DomainError):
    status = 429
    code = "too_many_requests"


class Unavailable(DomainError):
    """503: the service cannot do it now (busy, a store host that does not answer)."""

    status = 503
    code = "unavailable"


__all__ = [
    "MAX_DETAILS",
    "BadRequest",
    "Conflict",
    "DomainError",
    "FieldError",
    "Forbidden",
    "HostFull",
    "Invalid",
    "NoCapacity",
    "NotFound",
    "QuotaExceeded",
    "SettingsError",
    "TooManyRequests",
    "Unauthorized",
    "Unavailable",
    "UnsupportedMedia",
]
