"""Request bodies of /v2 (OSB v2.17), bounded like every dbvend body: ids are short strings,
`parameters` a handful of keys, `context` a small object the broker records and ignores."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

Id = Annotated[str, Field(min_length=1, max_length=200)]
Key = Annotated[str, Field(max_length=64)]


class _Body(BaseModel):
    # Platforms send fields of later spec versions; unknown top-level keys are ignored, as OSB asks.
    model_config = ConfigDict(extra="ignore")


class ProvisionRequest(_Body):
    service_id: Id
    plan_id: Id
    # REQUIRED by the spec (deprecated in favour of `context`, which platforms send beside them).
    organization_guid: Id
    space_guid: Id
    context: dict[Key, Any] | None = Field(default=None, max_length=32)
    parameters: dict[Key, Any] | None = Field(default=None, max_length=16)
    maintenance_info: dict[Key, Any] | None = Field(default=None, max_length=8)


class PreviousValues(_Body):
    service_id: Id | None = None
    plan_id: Id | None = None


class UpdateRequest(_Body):
    service_id: Id
    plan_id: Id | None = None
    context: dict[Key, Any] | None = Field(default=None, max_length=32)
    parameters: dict[Key, Any] | None = Field(default=None, max_length=16)
    previous_values: PreviousValues | None = None
    maintenance_info: dict[Key, Any] | None = Field(default=None, max_length=8)


class BindRequest(_Body):
    service_id: Id
    plan_id: Id
    app_guid: Id | None = None
    bind_resource: dict[Key, Any] | None = Field(default=None, max_length=8)
    context: dict[Key, Any] | None = Field(default=None, max_length=32)
    parameters: dict[Key, Any] | None = Field(default=None, max_length=16)
