"""Which backup may go into an instance: the owner's own, completed, of the same engine.
Checked inside the transaction that records a restore or a clone's create."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..db import backups
from ..errors import Conflict, FieldError, NotFound, SettingsError

if TYPE_CHECKING:
    from ..db import Conn


async def restorable(conn: Conn, backup_id: str, *, owner_id: int, engine: str, field: str) -> backups.Backup:
    """The owner's completed backup of this engine; NotFound, Conflict (naming `field`) or
    SettingsError (422 naming `field`) otherwise."""
    found = await backups.get(conn, backup_id, owner_id=owner_id)
    if found is None:
        raise NotFound("backup")
    if found.engine != engine:
        raise SettingsError(
            [FieldError(field, f"backup {backup_id} is a {found.engine} backup; it cannot go into {engine}")]
        )
    if found.status != "completed":
        raise Conflict(f"backup {backup_id} is {found.status}; only a completed backup restores", field=field)
    return found
