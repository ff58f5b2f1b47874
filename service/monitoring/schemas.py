"""Response bodies of the monitoring routes: alerts, rules, webhooks, samples, instance
health. Declared once: the handlers build their JSON through these models and
the OpenAPI document shows them."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import ConfigDict, Field

from ..web.contract import Out

AlertStatus = Literal["pending", "firing", "acknowledged", "resolved"]
Severity = Literal["info", "warning", "critical"]


class AlertChange(Out):
    at: datetime | None
    status: str
    actor: str | None
    comment: str | None
    value: float | None


class Alert(Out):
    id: int
    rule: str
    status: AlertStatus
    severity: Severity
    labels: dict[str, str]
    annotations: dict[str, str]
    fingerprint: str
    instance_id: str | None
    value: float | None
    pending_since: datetime | None
    starts_at: datetime | None
    ends_at: datetime | None
    acknowledged_by: str | None
    acknowledged_at: datetime | None
    comment: str | None
    updated_at: datetime | None


class AlertDetail(Alert):
    history: list[AlertChange]


class AlertList(Out):
    items: list[Alert]


class Rule(Out):
    id: int
    name: str
    condition: str
    threshold: float | None
    params: dict[str, Any]
    for_: int = Field(alias="for", description="seconds the condition must hold before firing")
    keep_firing_for: int = Field(description="seconds")
    severity: Severity
    labels: dict[str, str]
    description: str
    enabled: bool
    builtin: bool
    created_at: datetime | None
    updated_at: datetime | None

    model_config = ConfigDict(extra="forbid", populate_by_name=True, serialize_by_alias=True)


class RuleList(Out):
    items: list[Rule]


class Delivery(Out):
    id: int
    status: Literal["pending", "delivered", "failed"]
    payload_status: str | None = Field(
        description="firing or resolved (alerts), or the instance event's type"
    )
    attempts: int
    response_status: int | None = Field(description="the receiver's HTTP status; its body is never read")
    error: str | None = Field(description="why the last attempt failed: our words and the status code only")
    created_at: datetime | None
    delivered_at: datetime | None
    next_attempt_at: datetime | None = Field(description="when a pending delivery is tried again")
    max_attempts: int = Field(description="attempts before it is given up (a test delivery: one)")


class WebhookTest(Out):
    """A test delivery queued (POST /webhooks/{id}/test): GET /webhooks/{id} shows how it went."""

    delivery_id: int
    status: Literal["pending"]


class Webhook(Out):
    id: int
    url: str = Field(description="as registered, with any user:password shown as ***")
    send_resolved: bool
    owner: str
    scope: str
    events: list[Literal["alerts", "instances"]] = Field(description="what it receives")
    signed: bool = Field(
        description="deliveries carry X-Dbvend-Signature (false only for webhooks made before signing)"
    )
    created_at: datetime | None


class WebhookCreated(Webhook):
    secret: str = Field(
        description="the signing secret, shown only in this response: verify X-Dbvend-Signature with it"
    )


class WebhookDetail(Webhook):
    deliveries: list[Delivery] = Field(description="the most recent deliveries, newest first")


class WebhookList(Out):
    items: list[Webhook]


class ContainerSample(Out):
    status: str = Field(description="running, restarting, exited, created, paused, dead, missing, unknown")
    restart_count: int | None = Field(description="Docker's RestartCount of the container")
    restarts: int = Field(description="restarts since the previous sample (a new container counts from 0)")
    oom_killed: bool
    started_at: datetime | None
    memory_bytes: int | None
    memory_limit_bytes: int | None
    cpu_percent: float | None


class Sample(Out):
    at: datetime | None
    up: bool = Field(description="the container runs and the engine answers dbvend's admin account")
    container: ContainerSample
    engine: dict[str, Any] = Field(description="engine metrics (the engine's probe)")
    disk_bytes: int | None = Field(
        description="disk used by the instance's directory on its host (allocated blocks, like du)"
    )
    error: str | None


class InstanceMetrics(Out):
    instance_id: str
    engine: str
    collect_interval: float
    items: list[Sample]


class MetricPoint(Out):
    """One bucket of an instance's samples (averages; limits and disk at their largest)."""

    at: datetime = Field(description="the bucket's start")
    samples: int
    up: bool = Field(description="every sample of the bucket saw the server answer")
    cpu_percent: float | None = Field(description="of one CPU, the container's")
    memory_bytes: int | None = Field(description="the container's memory use")
    memory_limit_bytes: int | None = Field(description="the container's memory limit")
    engine_memory_bytes: int | None = Field(description="the server's own memory use (Redis used_memory)")
    engine_memory_limit_bytes: int | None = Field(description="the server's memory limit (Redis maxmemory)")
    connections: float | None
    connection_limit: int | None = Field(description="max_connections, maxclients")
    disk_bytes: int | None = Field(description="the instance's directory on its host")


class MetricsHistory(Out):
    instance_id: str
    engine: str
    range: str = Field(examples=["1h", "6h", "24h", "7d"])
    step_seconds: int = Field(description="each point's bucket")
    collect_interval: float = Field(description="seconds between samples (0: monitoring is off)")
    points: list[MetricPoint] = Field(description="oldest first; buckets without samples are left out")


class OpenAlert(Out):
    id: int
    rule: str
    status: AlertStatus
    severity: Severity
    starts_at: datetime | None
    summary: str | None


class Health(Out):
    """The latest monitoring sample and open alerts (instance detail only)."""

    state: Literal["up", "down", "unknown", "not_running"] = Field(
        description="up/down: the latest sample of a running instance; unknown: monitoring off, no recent"
        " sample, or none since the instance last changed; not_running: the instance is not running"
        " (stopped, provisioning, failed, deleting)"
    )
    checked_at: datetime | None
    container: ContainerSample | None
    engine: dict[str, Any] | None
    error: str | None
    open_alerts: list[OpenAlert]
