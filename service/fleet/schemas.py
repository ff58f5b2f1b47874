"""Response bodies of /api/v1/hosts: a Docker host as the fleet's overview shows it."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from ..web.contract import Out


class Host(Out):
    name: str
    address: str
    state: Literal["up", "down", "draining"]
    health: str = Field(description="what the last health check found: up, down or unknown")
    draining: bool
    in_inventory: bool
    capacity_mb: int
    committed_mb: int
    instances: int
    port_range: list[int] = Field(min_length=2, max_length=2)
    last_check: datetime | None
    reason: str | None
    server_version: str | None
    cleanups_pending: int = Field(description="containers of deleted or failed instances still to remove")
    cleanups_failed: int = Field(description="cleanups that gave up; their ports and memory stay claimed")


class HostList(Out):
    items: list[Host]
