"""Host samples: the filesystem of each Docker host's data root, per collection round."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from . import Executor


@dataclass(frozen=True)
class HostSample:
    host: str
    data_root: str
    total_bytes: int | None = None
    free_bytes: int | None = None  # available to unprivileged users
    error: str | None = None
    at: datetime | None = None


async def insert_many(db: Executor, samples: Sequence[HostSample], at: datetime) -> None:
    if not samples:
        return
    await db.executemany(
        "INSERT INTO host_samples (host, at, data_root, total_bytes, free_bytes, error)"
        " VALUES ($1, $2, $3, $4, $5, $6)",
        [(s.host, at, s.data_root, s.total_bytes, s.free_bytes, s.error) for s in samples],
    )


async def latest(db: Executor, *, max_age_seconds: float) -> dict[str, HostSample]:
    """The newest sample of each host within max_age_seconds."""
    rows = await db.fetch(
        "SELECT DISTINCT ON (host) host, data_root, total_bytes, free_bytes, error, at FROM host_samples"
        " WHERE at > now() - make_interval(secs => $1) ORDER BY host, at DESC",
        max_age_seconds,
    )
    return {r["host"]: HostSample(**dict(r)) for r in rows}
