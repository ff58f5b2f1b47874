"""Backups in JSON: the backup, its pages, and the request and query shapes of its routes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field

from .contract import Out
from .models import Instance, Operation
from .queries import Query, Whole
from .schemas import Body

BACKUP_ID_PATTERN = r"^b-[a-z0-9]{6,40}$"
BackupId = Annotated[str, Field(max_length=42, pattern=BACKUP_ID_PATTERN)]
Cursor = Annotated[str, Field(max_length=512, pattern=r"^[A-Za-z0-9_-]*$")]


class Backup(Out):
    id: str
    instance_id: str
    engine: str
    status: Literal["pending", "running", "completed", "failed"]
    format: Literal["sql.gz", "rdb"] = Field(description="sql.gz: a mariadb-dump, gzip; rdb: a Redis RDB")
    size_bytes: int | None = Field(description="of the plaintext file (what a download gives)")
    sha256: str | None = Field(description="SHA-256 of the plaintext file, hex")
    scheduled: bool
    final: bool = Field(description="kept when its instance was deleted")
    error: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    operation_id: str | None = Field(description="the operation that makes it")


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


class RestoreRequest(Body):
    backup_id: BackupId


class RestoreOperation(Operation):
    backup_id: str


class RestoreResult(Instance):
    operation_id: str
    backup_id: str
