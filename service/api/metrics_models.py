"""The shapes of GET /api/v1/instances/{id}/metrics: recent samples of one instance."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ContainerSample(_Out):
    status: str = Field(description="running, restarting, exited, created, paused, dead, missing, unknown")
    restart_count: int | None = Field(description="Docker's RestartCount of the container")
    restarts: int = Field(description="restarts since the previous sample (a new container counts from 0)")
    oom_killed: bool
    started_at: str | None
    memory_bytes: int | None
    memory_limit_bytes: int | None
    cpu_percent: float | None


class SampleOut(_Out):
    at: str | None
    up: bool = Field(description="the container runs and the engine answers dbvend's admin account")
    container: ContainerSample
    engine: dict[str, Any] = Field(description="engine metrics (service/monitoring/probes.py)")
    disk_bytes: int | None = Field(
        description="disk used by the instance's directory on its host (allocated blocks, like du)"
    )
    error: str | None


class InstanceMetrics(_Out):
    instance_id: str
    engine: str
    collect_interval: float = Field(description="seconds between collection rounds")
    items: list[SampleOut] = Field(description="newest first")


class MetricsQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    since: int = Field(3600, ge=1, le=30 * 86400, description="seconds back")
    limit: int = Field(240, ge=1, le=5000, description="samples at most")
