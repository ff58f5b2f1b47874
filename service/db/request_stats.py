"""API traffic per minute (requests, 5xx), added up across service processes, for the
error-rate rule."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from . import Executor


async def add(db: Executor, counts: Mapping[datetime, tuple[int, int]]) -> None:
    """counts: minute -> (requests, errors), added to what other processes wrote."""
    if not counts:
        return
    await db.executemany(
        "INSERT INTO request_minutes (minute, requests, errors) VALUES ($1, $2, $3)"
        " ON CONFLICT (minute) DO UPDATE SET requests = request_minutes.requests + EXCLUDED.requests,"
        " errors = request_minutes.errors + EXCLUDED.errors",
        [(minute, requests, errors) for minute, (requests, errors) in counts.items()],
    )


async def totals(db: Executor, window_seconds: float) -> tuple[int, int]:
    """(requests, errors) in the minutes that overlap the window."""
    row = await db.fetchrow(
        "SELECT coalesce(sum(requests), 0) AS requests, coalesce(sum(errors), 0) AS errors"
        " FROM request_minutes WHERE minute > now() - make_interval(secs => $1 + 60)",
        window_seconds,
    )
    assert row is not None
    return int(row["requests"]), int(row["errors"])
