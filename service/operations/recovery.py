"""After a restart: finish or cleanly fail what was in flight.

Operations of a worker that died keep their lease until it expires; when that worker
ran on this machine, in this PID namespace (pids.local_scope), and its process is gone
we know it is dead, so its leases are expired at once and the new worker claims the
operations straight away."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from .. import pids
from ..backupstore.staging import Staging
from ..backupstore.store import BackupStore
from ..db import backups, operations
from .runner import sweep_stale_runs

if TYPE_CHECKING:
    from pathlib import Path

    from ..config import Settings
    from ..crypto import SecretBox
    from ..db import Executor

log = logging.getLogger(__name__)


async def expire_dead_local_leases(db: Executor) -> int:
    dead = []
    for owner in await operations.running_owners(db, f"{pids.local_scope()}:"):
        parts = owner.split(":")
        if len(parts) >= 2 and parts[1].isdigit() and not pids.alive(int(parts[1])):
            dead.append(owner)
    if not dead:
        return 0
    count = await operations.expire_leases_of(db, dead)
    log.warning("took over %d operation(s) of dead worker(s) %s", count, ", ".join(dead))
    return count


async def recover(db: Executor, runs_dir: Path) -> None:
    removed = sweep_stale_runs(runs_dir)
    if removed:
        log.warning("removed %d run directorie(s) left by a crashed worker", removed)
    await expire_dead_local_leases(db)


async def sweep_backups(db: Executor, settings: Settings, box: SecretBox) -> None:
    """Plaintext left in staging by a dead process, and store files no row stands behind as
    completed or in the making (a partial of a crashed backup, a failed or deleted one's)."""
    Staging(settings.staging_dir).sweep()
    BackupStore(settings.backup_dir, box).sweep(await backups.store_paths(db))
