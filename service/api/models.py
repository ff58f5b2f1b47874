"""Response bodies of the core routes (DESIGN.md §3). Every field is required (nullable
where it may be empty) and no other field is allowed, so a response that drifts from
its declaration fails in the tests, and the OpenAPI schemas are these models."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from ..engines import ConnectionDetails, EngineName
from .contract import Out
from .monitoring_models import Health

InstanceStatus = Literal["provisioning", "running", "stopped", "deleting", "failed"]
OperationStatus = Literal["pending", "running", "succeeded", "failed"]


class ErrorDetail(Out):
    field: str
    message: str


class ErrorBody(Out):
    code: str = Field(examples=["validation_error"])
    message: str
    request_id: str
    details: list[ErrorDetail] | None = None


class Error(Out):
    error: ErrorBody


class Token(Out):
    token: str
    token_type: Literal["Bearer"]
    expires_at: datetime


class QuotaLine(Out):
    limit: int = Field(description="the limit in force")
    used: int = Field(description="what the user's live (not deleted) instances take now")
    default: bool = Field(description="true when the limit is the configured default")


class Quota(Out):
    instances: QuotaLine
    memory_mb: QuotaLine
    backup_mb: QuotaLine = Field(description="store space of the user's backups (completed, not deleted)")


class User(Out):
    username: str
    is_admin: bool
    created_at: datetime
    disabled: bool = Field(description="a disabled user has no valid token and cannot log in")
    quota: Quota


class UserList(Out):
    items: list[User]


class Placement(Out):
    host: str
    address: str
    port: int
    host_state: str = Field(description="health of the host: up, down or unknown")
    host_in_inventory: bool


class BackupPolicyView(Out):
    """An instance's backup schedule as shown."""

    interval_hours: int = Field(description="a scheduled backup every this many hours")
    keep: int = Field(description="completed scheduled backups kept; older ones are deleted")


class Instance(Out):
    id: str = Field(examples=["i-7f3k2q9x"])
    name: str
    engine: EngineName
    plan: str | None = Field(description="the plan it runs on (GET /api/v1/plans); null: custom settings")
    status: InstanceStatus
    owner: str
    settings: dict[str, Any] = Field(description="the engine's settings, defaults filled in")
    memory_mb: int
    placement: Placement
    reachable: bool = Field(description="running, on a host that answers")
    connection: ConnectionDetails = Field(description="what a client needs; its shape is the engine's")
    facts: dict[str, Any] = Field(description="what Ansible reported when it deployed the instance")
    backup_policy: BackupPolicyView | None = Field(
        description="the backup schedule (PATCH /instances/{id}); null when there is none"
    )
    created_at: datetime
    updated_at: datetime
    error: str | None


class InstanceDetail(Instance):
    health: Health


class AcceptedInstance(Instance):
    """A create's answer: the instance and the operation that deploys it."""

    operation_id: str


class InstancePage(Out):
    items: list[Instance]
    next_cursor: str | None


class Operation(Out):
    id: str
    kind: str = Field(examples=["create", "delete", "repair"])
    instance_id: str
    status: OperationStatus
    attempts: int
    error: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    facts: dict[str, Any] | None


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


class SettingsChangeSummary(Out):
    """How a PATCH changes the settings (from the engine's rules)."""

    live: list[str] = Field(description="settings the running server takes without a restart")
    restart: list[str] = Field(description="settings applied with one restart of the server")
    convert: bool = Field(description="the database's charset/collation is converted (ALTER DATABASE)")


class ActionOperation(Operation):
    """A stop, start or restart accepted: the operation that runs it (202)."""


class ActionResult(Instance):
    """The instance once the action has succeeded (200). operation_id is null when the
    instance was in the requested state already and nothing was recorded."""

    operation_id: str | None


class ReconfigureOperation(Operation):
    changes: SettingsChangeSummary


class ReconfigureResult(Instance):
    operation_id: str | None
    changes: SettingsChangeSummary


class RotateOperation(Operation):
    password: str = Field(description="the new password: shown in this answer only")
    grace_seconds: int = Field(description="how long the old password stays valid (Redis only)")


class RotateResult(Instance):
    operation_id: str
    password: str = Field(description="the new password (also in connection once the rotation succeeded)")
    grace_seconds: int


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
    parameters_schema: dict[str, Any] = Field(description="JSON Schema of the `settings` a create may send")


class PlanList(Out):
    items: list[PlanView]
