"""Request and response bodies of /api/v1/plans."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from ..engines import EngineName
from ..web.contract import Out
from ..web.schemas import Body


class PlanView(Out):
    id: str = Field(description="stable UUID (the service broker's plan id)")
    engine: EngineName
    name: str = Field(examples=["small"])
    description: str
    available: bool = Field(
        description="new instances may be created on it (plans.yml, or an admin's switch)"
    )
    memory_mb: int = Field(description="the container memory it gives; what quotas and placement count")
    settings: dict[str, Any] = Field(
        description="the settings it deploys with, the engine's defaults filled in;"
        " null where the value derives from the instance (a MySQL database name, a default collation)"
    )
    settable: dict[str, dict[str, int]] = Field(
        description="the settings a user may still send, each with its bounds (minimum/maximum, may be empty)"
    )
    parameters_schema: dict[str, Any] = Field(
        description="JSON Schema of the `settings` a create may send; each property carries"
        " x-restart-required (and x-restart-when) as the engine's settings schema does"
    )
    restart_required: dict[str, bool] = Field(
        description="every setting of the engine -> whether changing it can restart the server (a PATCH"
        " or a move between plans); x-restart-when in the settings schema says when only some changes do"
    )


class PlanList(Out):
    items: list[PlanView]


class PlanAvailabilityRequest(Body):
    available: bool = Field(
        strict=True, description="false: no new instances on the plan; existing ones keep running"
    )
