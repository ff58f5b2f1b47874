"""Which backup may go into an instance: the owner's own, completed, of the same engine.
Checked inside the transaction that records a restore or a clone's create."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..db import backups
from ..engines import FieldError, SettingsError

if TYPE_CHECKING:
    from ..db import Conn


class NotFound(Exception):
    """No such instance or backup for this caller (another user's is the same)."""

    def __init__(self, what: str) -> None:
        super().__init__(f"{what} not found")
        self.what = what


class NotCompleted(Exception):
    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


async def restorable(conn: Conn, backup_id: str, *, owner_id: int, engine: str, field: str) -> backups.Backup:
    """The owner's completed backup of this engine; NotFound, NotCompleted (409) or
    SettingsError (422 naming `field`) otherwise."""
    found = await backups.get(conn, backup_id, owner_id=owner_id)
    if found is None:
        raise NotFound("backup")
    if found.engine != engine:
        raise SettingsError(
            [FieldError(field, f"backup {backup_id} is a {found.engine} backup; it cannot go into {engine}")]
        )
    if found.status != "completed":
        raise NotCompleted(f"backup {backup_id} is {found.status}; only a completed backup restores", field)
    return found
