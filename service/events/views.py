"""How an event looks in JSON."""

from __future__ import annotations

from datetime import datetime
from typing import Any


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def event_view(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "at": _iso(row["at"]),
        "kind": row["kind"],
        "severity": row["severity"],
        "source": row["source"],
        "instance_id": row["instance_id"],
        "subject": row["subject"],
        "message": row["message"],
        "details": row["details"],
    }
