"""What every /v2 request carries: HTTP Basic credentials of the broker, X-Broker-API-Version
(2.13 or later), maybe X-Broker-API-Originating-Identity; and the OSB error body
({"error": code?, "description": text}), which differs from /api/v1's."""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import re
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Middleware

from ..config import BrokerSettings
from ..errors import Conflict, DomainError, NoCapacity, NotFound, QuotaExceeded, SettingsError

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
MIN_VERSION = (2, 13)
IDENTITY: web.RequestKey[dict[str, Any] | None] = web.RequestKey("broker_identity", dict)
_VERSION = re.compile(r"([0-9]{1,3})\.([0-9]{1,3})")
_PLATFORM = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
_MAX_IDENTITY = 4096
# OSB ids (instances, bindings): platforms send GUIDs; kept to a plain, bounded alphabet.
OSB_ID = re.compile(r"[A-Za-z0-9._-]{1,200}")


class BrokerError(DomainError):
    """An OSB error answer. `error` is one of the spec's codes (AsyncRequired, ...) or None."""

    def __init__(self, status: int, description: str, error: str | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.error = error


def osb_response(err: DomainError) -> web.Response:
    """OSB's error body, {"error"?, "description"}. A refusal that is not the broker's own
    keeps its status, except that OSB calls a malformed request 400 where /api/v1 says 422."""
    if isinstance(err, BrokerError):
        body: dict[str, Any] = {"description": err.description}
        if err.error:
            body["error"] = err.error
        headers = {"WWW-Authenticate": 'Basic realm="dbvend broker"'} if err.status == 401 else None
        return web.json_response(body, status=err.status, headers=headers)
    status = 400 if err.status == 422 else err.status
    return web.json_response({"description": err.message}, status=status, headers=err.headers)


def _refusal(request: web.Request, exc: DomainError) -> BrokerError | None:
    """What the domain services' refusals are in OSB's terms (None: answered as they are)."""
    if isinstance(exc, BrokerError):
        return exc
    if isinstance(exc, SettingsError):
        parts = "; ".join(
            f"{e.field.replace('settings.', 'parameters.', 1)}: {e.message}" for e in exc.errors
        )
        return BrokerError(400, f"invalid parameters: {parts}")
    if isinstance(exc, QuotaExceeded):
        return BrokerError(403, f"the broker's account is over its quota: {exc}")
    if isinstance(exc, NoCapacity):
        return BrokerError(503, str(exc))
    if isinstance(exc, Conflict):
        return BrokerError(422, str(exc), "ConcurrencyError")
    if isinstance(exc, NotFound):
        return BrokerError(404, f"service instance {request.match_info.get('instance_id')} does not exist")
    return None


def is_broker_path(path: str) -> bool:
    return path == "/v2" or path.startswith("/v2/")


def check_basic(header: str, broker: BrokerSettings) -> bool:
    """No lockout after failures, on purpose: behind a proxy every caller has one address, and a
    lockout would let anyone shut the platform out. Guessing is what the production rule
    (>= 24 random characters, config.py) makes hopeless instead."""
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic" or not encoded or len(encoded) > 1024:
        return False
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return False
    username, sep, password = decoded.partition(":")
    # Both compared in constant time, both always: a wrong name costs what a wrong password does.
    same_user = hmac.compare_digest(username.encode(), broker.username.encode())
    same_password = hmac.compare_digest(password.encode(), broker.password.encode())
    return bool(sep) and same_user and same_password


def check_version(header: str | None) -> None:
    match = _VERSION.fullmatch(header or "")
    if match is None:
        raise BrokerError(412, "send X-Broker-API-Version: 2.13 or later (this broker speaks 2.17)")
    major, minor = int(match[1]), int(match[2])
    if major != 2 or (major, minor) < MIN_VERSION:
        raise BrokerError(412, f"X-Broker-API-Version {header} is not supported: 2.13 to 2.17 are")


def originating_identity(header: str | None) -> dict[str, Any] | None:
    """`platform base64(json object)` -> {"platform", "value"}; 400 for anything else."""
    if header is None:
        return None
    platform, _, encoded = header.strip().partition(" ")
    if not _PLATFORM.fullmatch(platform) or not encoded or len(encoded) > _MAX_IDENTITY:
        raise BrokerError(
            400, "X-Broker-API-Originating-Identity: expected '<platform> <base64 JSON object>'"
        )
    try:
        value = json.loads(base64.b64decode(encoded.strip(), validate=True).decode("utf-8"))
    except (binascii.Error, UnicodeDecodeError, ValueError, RecursionError):
        value = None
    if not isinstance(value, dict):
        raise BrokerError(400, "X-Broker-API-Originating-Identity: the value is not base64 of a JSON object")
    return {"platform": platform, "value": value}


def broker_middleware(broker: BrokerSettings | None) -> Middleware:
    """On /v2 only: off (404) without a configured broker, then credentials (401), version (412),
    identity (400). The one place a refusal on /v2 is mapped to OSB's terms (_refusal); any
    other error goes on to the error middleware, which answers it in OSB's shape too."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if not is_broker_path(request.path):
            return await handler(request)
        try:
            if broker is None:
                raise BrokerError(404, "the service broker is off (DBVEND_BROKER=on serves it)")
            if not check_basic(request.headers.get("Authorization", ""), broker):
                raise BrokerError(401, "send the broker's HTTP Basic credentials")
            check_version(request.headers.get("X-Broker-API-Version"))
            request[IDENTITY] = originating_identity(request.headers.get("X-Broker-API-Originating-Identity"))
            return await handler(request)
        except DomainError as exc:
            refusal = _refusal(request, exc)
            if refusal is None:
                raise
            return osb_response(refusal)

    return middleware
