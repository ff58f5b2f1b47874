"""Response bodies of the instance routes (DESIGN.md §3). Every field is required (nullable
where it may be empty) and no other field is allowed, so a response that drifts from its
declaration fails in the tests, and the OpenAPI schemas are these models."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from ..engines import ConnectionDetails, EngineName
from ..monitoring.service import Health
from ..web.contract import Out
from ..web.operations import Operation

InstanceStatus = Literal["provisioning", "running", "stopped", "deleting", "failed"]


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


class OperationPage(Out):
    items: list[Operation]
    next_cursor: str | None


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


RESTART_REQUIRED = (
    "true: the change restarts the server once (the settings in changes.restart; its open connections end);"
    " false: everything applies live"
)


class ReconfigureOperation(Operation):
    changes: SettingsChangeSummary
    restart_required: bool = Field(description=RESTART_REQUIRED)


class ReconfigureResult(Instance):
    operation_id: str | None
    changes: SettingsChangeSummary
    restart_required: bool = Field(description=RESTART_REQUIRED)


class RotateOperation(Operation):
    password: str = Field(description="the new password: shown in this answer only")
    grace_seconds: int = Field(description="how long the old password stays valid (Redis only)")


class RotateResult(Instance):
    operation_id: str
    password: str = Field(description="the new password (also in connection once the rotation succeeded)")
    grace_seconds: int


class RestoreOperation(Operation):
    backup_id: str


class RestoreResult(Instance):
    operation_id: str
    backup_id: str
