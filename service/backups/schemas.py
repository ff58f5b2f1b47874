"""Backups in JSON: the backup, its pages, and the query shapes of its routes (a restore's
request and answer are the instances domain's: it is a day-2 action)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field

from ..engines import BackupFormat
from ..web.contract import Out
from ..web.queries import Query, Whole

Cursor = Annotated[str, Field(max_length=512, pattern=r"^[A-Za-z0-9_-]*$")]


class Backup(Out):
    id: str
    instance_id: str
    engine: str
    status: Literal["pending", "running", "completed", "failed"]
    format: BackupFormat = Field(description="sql.gz: a mariadb-dump, gzip; rdb: a Redis RDB")
    size_bytes: int | None = Field(description="of the plaintext file (what a download gives)")
    sha256: str | None = Field(description="SHA-256 of the plaintext file, hex")
    scheduled: bool
    final: bool = Field(description="kept when its instance was deleted")
    error: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    operation_id: str | None = Field(description="the operation that makes it")
    instance_name: str | None = Field(
        description="the name of the instance it was taken of (kept after a delete)"
    )
    instance_deleted: bool = Field(
        description="that instance was deleted (its backups restore into a new one: a clone)"
    )


class BackupPage(Out):
    items: list[Backup]
    next_cursor: str | None


class BackupListQuery(Query):
    instance_id: Annotated[str, Field(max_length=64, pattern=r"^[a-z0-9-]+$")] | None = Field(
        default=None, description="filter (also a deleted instance's backups)"
    )
    limit: Whole = Field(default=50, ge=1, le=200, description="page size")
    cursor: Cursor | None = Field(default=None, description="next_cursor of the previous page")


class BackupPageQuery(Query):
    limit: Whole = Field(default=50, ge=1, le=200, description="page size")
    cursor: Cursor | None = Field(default=None, description="next_cursor of the previous page")
