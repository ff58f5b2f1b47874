"""A backup schedule (`instances.backup_policy`): a backup every `interval_hours`, the newest
`keep` completed scheduled backups kept. The decisions the scheduler takes are pure
functions of what the store holds, so a restarted or another service process takes the
same ones."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

MAX_INTERVAL_HOURS = 720  # 30 days
MAX_KEEP = 100


class BackupPolicy(BaseModel):
    """What PATCH /instances/{id} takes as `backup_policy` (null switches it off)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    interval_hours: int = Field(
        strict=True, ge=1, le=MAX_INTERVAL_HOURS, description="a backup every this many hours"
    )
    keep: int = Field(
        strict=True, ge=1, le=MAX_KEEP, description="scheduled backups kept; older completed ones are deleted"
    )


def load(stored: dict[str, Any] | None) -> BackupPolicy | None:
    """The stored policy; a row the model no longer accepts is treated as no schedule
    rather than making the instance unreadable."""
    if not stored:
        return None
    try:
        return BackupPolicy.model_validate(stored)
    except ValueError:
        return None


def due_at(
    policy: BackupPolicy, last_scheduled: datetime | None, now: datetime, hour_seconds: int
) -> datetime:
    """When the next scheduled backup is due: one interval after the last one was asked for
    (whatever became of it: a failed one is not retried before its next turn), or at once
    when the instance has none yet."""
    if last_scheduled is None:
        return now
    return last_scheduled + timedelta(seconds=policy.interval_hours * hour_seconds)


def is_due(policy: BackupPolicy, last_scheduled: datetime | None, now: datetime, hour_seconds: int) -> bool:
    return due_at(policy, last_scheduled, now, hour_seconds) <= now


@dataclass(frozen=True)
class Kept:
    id: str
    created_at: datetime


def to_prune(completed: Sequence[Kept], keep: int) -> list[str]:
    """The completed scheduled backups beyond the newest `keep` (ids, oldest first).
    Manual and final backups are never in `completed`: a schedule prunes only its own."""
    newest_first = sorted(completed, key=lambda b: (b.created_at, b.id), reverse=True)
    return [b.id for b in reversed(newest_first[keep:])]
