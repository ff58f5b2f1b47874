"""Response bodies and query strings of /api/v1/events: what the gateway, the collector, the
worker and the alert rules recorded."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field

from ..web.contract import Out
from ..web.queries import MAX_BIGINT, Query, Text, Whole


class Event(Out):
    id: int
    at: datetime | None
    kind: str = Field(examples=["server_error", "auth_failure", "provisioning_failed", "instance_repaired"])
    severity: str
    source: str = Field(examples=["gateway", "collector", "worker", "alerts"])
    instance_id: str | None
    subject: str | None
    message: str
    details: dict[str, Any] | None


class EventPage(Out):
    items: list[Event]
    next_before: int | None = Field(description="pass as ?before= for the next page")


class EventListQuery(Query):
    kind: Text | None = Field(default=None, description="filter")
    instance_id: Text | None = Field(default=None, description="filter")
    before: Whole | None = Field(
        default=None, ge=1, le=MAX_BIGINT, description="next_before of the previous page"
    )
    limit: Whole = Field(default=100, ge=1, le=1000, description="page size")
