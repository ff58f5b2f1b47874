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

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
MIN_VERSION = (2, 13)
IDENTITY: web.RequestKey[dict[str, Any] | None] = web.RequestKey("broker_identity", dict)
_VERSION = re.compile(r"([0-9]{1,3})\.([0-9]{1,3})")
_PLATFORM = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
_MAX_IDENTITY = 4096
# OSB ids (instances, bindings): platforms send GUIDs; kept to a plain, bounded alphabet.
OSB_ID = re.compile(r"[A-Za-z0-9._-]{1,200}")


class BrokerError(Exception):
    """An OSB error answer. `error` is one of the spec's codes (AsyncRequired, ...) or None."""

    def __init__(self, status: int, description: str, error: str | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.error = error

    def response(self) -> web.Response:
        body: dict[str, Any] = {"description": self.description}
        if self.error:
            body["error"] = self.error
        headers = {"WWW-Authenticate": 'Basic realm="dbvend broker"'} if self.status == 401 else None
        return web.json_response(body, status=self.status, headers=headers)


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
    identity (400); BrokerError answers in the OSB format."""

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
        except BrokerError as err:
            return err.response()

    return middleware
