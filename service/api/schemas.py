"""Request bodies, validated by pydantic; their JSON Schemas feed the OpenAPI document."""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..backups.policy import BackupPolicy
from ..engines import ENGINES, EngineName
from ..engines.base import pydantic_errors
from ..errors import Invalid

# pydantic runs `pattern` on Rust's regex engine: linear time, and `$` there is the end of
# the text (a trailing newline does not match, unlike Python's re). Do not use these with re.
NAME_PATTERN = r"^[a-z][a-z0-9-]{0,62}$"
USERNAME_PATTERN = r"^[a-z][a-z0-9_.-]{1,62}$"
PLAN_PATTERN = r"^[a-z0-9-]{1,32}$"
# A settings object has a handful of keys; the engine model names each unknown one.
MAX_SETTINGS = 16
SettingKey = Annotated[str, Field(max_length=64)]
SETTINGS_SCHEMAS = ", ".join(f"{e.settings_model.__name__} ({e.name})" for e in ENGINES.values())


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LoginRequest(Body):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


class CreateUserRequest(Body):
    username: str = Field(max_length=63, pattern=USERNAME_PATTERN)
    password: str = Field(min_length=12, max_length=1024)
    is_admin: bool = False


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


M = TypeVar("M", bound=BaseModel)


def parse(model: type[M], body: dict[str, Any]) -> M:
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        raise Invalid(pydantic_errors(exc, "")) from None


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


class PlanAvailabilityRequest(Body):
    available: bool = Field(
        strict=True, description="false: no new instances on the plan; existing ones keep running"
    )
