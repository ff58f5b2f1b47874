"""Request bodies, validated by pydantic; their JSON Schemas feed the OpenAPI document."""

from __future__ import annotations

from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..engines.base import pydantic_errors
from .errors import validation

NAME_PATTERN = r"^[a-z][a-z0-9-]{0,62}$"
USERNAME_PATTERN = r"^[a-z][a-z0-9_.-]{1,62}$"


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LoginRequest(Body):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


class CreateUserRequest(Body):
    username: str = Field(pattern=USERNAME_PATTERN)
    password: str = Field(min_length=12, max_length=1024)
    is_admin: bool = False


class CreateInstanceRequest(Body):
    engine: Literal["mysql", "redis"]
    name: str | None = Field(
        default=None, pattern=NAME_PATTERN, description="unique per owner; defaults to the instance id"
    )
    settings: dict[str, Any] | None = Field(
        default=None, description="engine settings; see MysqlSettings and RedisSettings"
    )


M = TypeVar("M", bound=BaseModel)


def parse(model: type[M], body: dict[str, Any]) -> M:
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        raise validation(pydantic_errors(exc, "")) from None
