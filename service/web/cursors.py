"""Keyset pagination cursors: opaque to clients, and anything but one this API gave out
is a 422 naming `cursor` (never a 500 from a decoder or from PostgreSQL)."""

from __future__ import annotations

import base64
import binascii
import json
import re
from datetime import UTC, datetime

from ..errors import FieldError, Invalid

_CURSOR = re.compile(r"[A-Za-z0-9_-]{1,256}")  # what urlsafe_b64encode gives, unpadded
_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_MAX_STAMP = 40  # "2026-12-01T22:02:51.123456+00:00" is 32


def encode_cursor(created_at: datetime, row_id: str) -> str:
    raw = json.dumps([created_at.isoformat(), row_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    found = _decode(cursor)
    if found is None:
        raise _refused()
    return found


def _refused() -> Invalid:
    return Invalid([FieldError("cursor", "is not a cursor this API gave out")])


def _decode(cursor: str) -> tuple[datetime, str] | None:
    if not _CURSOR.fullmatch(cursor):
        return None
    try:
        decoded = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, binascii.Error, RecursionError):  # not base64, not UTF-8, not JSON
        return None
    if not (isinstance(decoded, list) and len(decoded) == 2 and all(isinstance(p, str) for p in decoded)):
        return None
    stamp, row_id = decoded
    if len(stamp) > _MAX_STAMP or not _ID.fullmatch(row_id):
        return None
    try:
        at = datetime.fromisoformat(stamp)
        # Naive or at the edge of the calendar: asyncpg's own UTC conversion would raise.
        return (at.astimezone(UTC), row_id) if at.tzinfo is not None else None
    except (ValueError, OverflowError):
        return None
