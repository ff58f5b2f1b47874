"""Per-user limits on live instances and their summed memory, checked inside the create
transaction under the user's row lock (db.users.lock_usage), so two creates at the limit
cannot both pass. A refused create records nothing: the check runs before any insert."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..db import operations, users
from ..errors import QuotaExceeded

if TYPE_CHECKING:
    from ..config import Settings
    from ..db import Conn


@dataclass(frozen=True)
class QuotaDefaults:
    """The limits of a user an admin set none for (DBVEND_QUOTA_*)."""

    instances: int
    memory_mb: int
    backup_mb: int = 10240

    @classmethod
    def of(cls, settings: Settings) -> QuotaDefaults:
        return cls(settings.quota_instances, settings.quota_memory_mb, settings.quota_backup_mb)


def verdict(usage: users.Usage, memory_mb: int, defaults: QuotaDefaults) -> QuotaExceeded | None:
    """Why one more instance of `memory_mb` would not fit, or None when it does."""
    max_instances = defaults.instances if usage.quota_instances is None else usage.quota_instances
    max_memory = defaults.memory_mb if usage.quota_memory_mb is None else usage.quota_memory_mb
    if usage.instances + 1 > max_instances:
        return QuotaExceeded(
            f"instance quota exceeded: you have {usage.instances} of at most {max_instances} instances",
            field="quota.instances",
        )
    if usage.memory_mb + memory_mb > max_memory:
        return QuotaExceeded(
            f"memory quota exceeded: this instance needs {memory_mb} MB and your instances use"
            f" {usage.memory_mb} MB of at most {max_memory} MB",
            field="quota.memory_mb",
        )
    return None


async def check(conn: Conn, owner_id: int, memory_mb: int, defaults: QuotaDefaults) -> None:
    """Raise QuotaExceeded; the caller's transaction keeps the user's lock until it ends."""
    usage = await users.lock_usage(conn, owner_id)
    refused = verdict(
        _with_open_growth(usage, await operations.open_growth(conn, owner_id)), memory_mb, defaults
    )
    if refused is not None:
        raise refused


async def precheck(conn: Conn, owner_id: int, memory_mb: int, defaults: QuotaDefaults) -> None:
    """check() without the user's lock: refuses early what check() would refuse; whoever
    acts on it checks again under the lock."""
    usage = await users.usage(conn, owner_id)
    refused = verdict(
        _with_open_growth(usage, await operations.open_growth(conn, owner_id)), memory_mb, defaults
    )
    if refused is not None:
        raise refused


def _with_open_growth(usage: users.Usage, pending_mb: int) -> users.Usage:
    return users.Usage(
        usage.quota_instances, usage.quota_memory_mb, usage.instances, usage.memory_mb + pending_mb
    )


def growth_verdict(usage: users.Usage, growth_mb: int, defaults: QuotaDefaults) -> QuotaExceeded | None:
    """Why an instance growing by `growth_mb` would not fit (the instance count is unchanged)."""
    max_memory = defaults.memory_mb if usage.quota_memory_mb is None else usage.quota_memory_mb
    if growth_mb > 0 and usage.memory_mb + growth_mb > max_memory:
        return QuotaExceeded(
            f"memory quota exceeded: this change needs {growth_mb} MB more and your instances use"
            f" {usage.memory_mb} MB of at most {max_memory} MB",
            field="quota.memory_mb",
        )
    return None


async def check_growth(conn: Conn, owner_id: int, growth_mb: int, defaults: QuotaDefaults) -> None:
    """A resize's check, under the user's row lock like a create's; open resizes count at
    their new size."""
    usage = await users.lock_usage(conn, owner_id)
    pending = await operations.open_growth(conn, owner_id)
    refused = growth_verdict(_with_open_growth(usage, pending), growth_mb, defaults)
    if refused is not None:
        raise refused
