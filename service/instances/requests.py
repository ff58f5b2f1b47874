"""Request bodies and query strings of the instance routes, validated by pydantic; their JSON
Schemas feed the OpenAPI document."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field

from ..backups.service import BackupPolicy
from ..engines import ENGINES, EngineName
from ..web.queries import Query, WaitQuery, Whole
from ..web.schemas import Body
from .schemas import InstanceStatus

# pydantic runs `pattern` on Rust's regex engine: linear time, and `$` there is the end of
# the text (a trailing newline does not match, unlike Python's re). Do not use these with re.
NAME_PATTERN = r"^[a-z][a-z0-9-]{0,62}$"
PLAN_PATTERN = r"^[a-z0-9-]{1,32}$"
BACKUP_ID_PATTERN = r"^b-[a-z0-9]{6,40}$"
# A settings object has a handful of keys; the engine model names each unknown one.
MAX_SETTINGS = 16
SettingKey = Annotated[str, Field(max_length=64)]
SETTINGS_SCHEMAS = ", ".join(f"{e.settings_model.__name__} ({e.name})" for e in ENGINES.values())
BackupId = Annotated[str, Field(max_length=42, pattern=BACKUP_ID_PATTERN)]


class CreateInstanceRequest(Body):
    engine: EngineName
    name: str | None = Field(
        default=None,
        max_length=63,
        pattern=NAME_PATTERN,
        description="unique per owner; defaults to the instance id",
    )
    settings: dict[SettingKey, Any] | None = Field(
        default=None,
        max_length=MAX_SETTINGS,
        description=f"engine settings; see {SETTINGS_SCHEMAS}",
    )
    restore_from: str | None = Field(
        default=None,
        max_length=42,
        pattern=r"^b-[a-z0-9]{6,40}$",
        description="a clone: the id of one of your completed backups of the same engine",
    )
    plan: str | None = Field(
        default=None,
        max_length=32,
        pattern=PLAN_PATTERN,
        description="a plan of the engine (GET /api/v1/plans): the settings come from it, and"
        " `settings` may hold only the plan's settable keys, within its bounds",
    )


class ReconfigureRequest(Body):
    settings: dict[SettingKey, Any] | None = Field(
        default=None,
        max_length=MAX_SETTINGS,
        description="the settings to change (others keep their values); see MysqlSettings and RedisSettings",
    )
    backup_policy: BackupPolicy | None = Field(
        default=None,
        description="the backup schedule; null switches it off, leaving it out keeps the one there is",
    )
    plan: str | None = Field(
        default=None,
        max_length=32,
        pattern=PLAN_PATTERN,
        description="move to this plan of the engine (its settings replace the plan-fixed ones,"
        " settable ones keep their values); null leaves the plan for custom settings;"
        " leaving it out keeps the plan",
    )
    convert: bool = Field(
        default=False,
        strict=True,
        description="allow changing the database charset/collation (ALTER DATABASE)",
    )


class RotateRequest(Body):
    grace_seconds: int = Field(
        default=0,
        strict=True,
        ge=0,
        le=86400,
        description="seconds the old password keeps working (Redis only; MariaDB has no dual passwords)",
    )


class RestoreRequest(Body):
    backup_id: BackupId


class DeleteQuery(WaitQuery):
    final_backup: bool = Field(
        default=False,
        description="take one last backup before the instance goes; it is kept (`final: true`) and"
        " listed by GET /backups?instance_id= after the instance is gone",
    )


class InstanceListQuery(Query):
    engine: EngineName | None = Field(default=None, description="filter")
    status: InstanceStatus | None = Field(default=None, description="filter")
    limit: Whole = Field(default=50, ge=1, le=200, description="page size")
    cursor: Annotated[str, Field(max_length=512, pattern=r"^[A-Za-z0-9_-]*$")] | None = Field(
        default=None, description="next_cursor of the previous page"
    )


class OperationListQuery(Query):
    limit: Whole = Field(default=50, ge=1, le=200, description="page size")
    cursor: Annotated[str, Field(max_length=512, pattern=r"^[A-Za-z0-9_-]*$")] | None = Field(
        default=None, description="next_cursor of the previous page"
    )
