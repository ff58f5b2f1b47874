"""Webhook signatures: `X-Dbvend-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">`
with the webhook's own secret, and `X-Dbvend-Timestamp` (Unix seconds), so a receiver can
check that a delivery is ours, unaltered and recent (docs/events.md has the check)."""

from __future__ import annotations

import hashlib
import hmac
import secrets

SIGNATURE_HEADER = "X-Dbvend-Signature"
TIMESTAMP_HEADER = "X-Dbvend-Timestamp"
EVENT_HEADER = "X-Dbvend-Event"
SECRET_PREFIX = "whsec_"  # noqa: S105 - a prefix that marks webhook secrets, not a secret


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)  # 256 bits


def signature(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"sha256={mac.hexdigest()}"


def headers(secret: str, timestamp: int, body: bytes) -> dict[str, str]:
    return {TIMESTAMP_HEADER: str(timestamp), SIGNATURE_HEADER: signature(secret, timestamp, body)}


def verify(secret: str, timestamp: str, body: bytes, sent: str, *, now: int, tolerance: int = 300) -> bool:
    """What a receiver does (the tests do it too): a recent timestamp and a matching MAC."""
    if not timestamp.isascii() or not timestamp.isdigit() or len(timestamp) > 12:
        return False
    if abs(now - int(timestamp)) > tolerance:
        return False
    return hmac.compare_digest(signature(secret, int(timestamp), body), sent)
