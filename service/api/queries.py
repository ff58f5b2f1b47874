"""Query strings of the routes, declared as models: validated on the way in (422 naming
the parameter) and shown as parameters in the OpenAPI document."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from ..engines import EngineName
from .models import InstanceStatus

MAX_BIGINT = 2**63 - 1

# No control characters (PostgreSQL refuses NUL) and a bound on length.
Text = Annotated[str, Field(max_length=128, pattern=r"^[^\x00-\x1f\x7f]*$")]


def _ascii_digits(value: object) -> object:
    """int() would also read "١٢", "1_000", "+5" and " 12 ": a query integer is digits 0-9."""
    if isinstance(value, str):
        digits = value.removeprefix("-")
        if not (0 < len(digits) <= 19 and digits.isascii() and digits.isdigit()):
            raise ValueError("must be an integer")
    return value


Whole = Annotated[int, BeforeValidator(_ascii_digits)]


class Query(BaseModel):
    # Parameters a route does not know are ignored, as HTTP clients expect.
    model_config = ConfigDict(extra="ignore")


class WaitQuery(Query):
    wait: Whole = Field(default=0, ge=0, le=3600, description="seconds to wait for the operation to finish")


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


class AlertListQuery(Query):
    instance_id: Text | None = Field(default=None, description="filter")
    status: Literal["pending", "firing", "acknowledged", "resolved"] | None = Field(
        default=None, description="filter"
    )
    rule: Text | None = Field(default=None, description="filter")
    limit: Whole = Field(default=100, ge=1, le=500, description="page size")


class EventListQuery(Query):
    kind: Text | None = Field(default=None, description="filter")
    instance_id: Text | None = Field(default=None, description="filter")
    before: Whole | None = Field(
        default=None, ge=1, le=MAX_BIGINT, description="next_before of the previous page"
    )
    limit: Whole = Field(default=100, ge=1, le=1000, description="page size")


class MetricsQuery(Query):
    since: Whole = Field(default=3600, ge=1, le=30 * 86400, description="seconds back")
    limit: Whole = Field(default=240, ge=1, le=5000, description="at most this many samples, newest first")
