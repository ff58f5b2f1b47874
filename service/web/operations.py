"""An operation as every domain answers it: the JSON of an operation (a create, a delete, a
day-2 action, a backup, a credential's bind or unbind), how long a request may wait for one
(?wait=N), and the answer of a removal (204 once done, else 202 with the operation)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from aiohttp import web
from pydantic import Field

from ..db.operations import Operation as OperationRow
from ..errors import FieldError, Invalid
from .contract import Out, read_query, respond
from .queries import WaitQuery

OperationStatus = Literal["pending", "running", "succeeded", "failed"]


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


def operation_view(op: OperationRow) -> dict[str, Any]:
    return {
        "id": op.id,
        "kind": op.kind,
        "instance_id": op.instance_id,
        "status": op.status,
        "attempts": op.attempts,
        "error": op.error,
        "created_at": op.created_at.isoformat(),
        "started_at": op.started_at.isoformat() if op.started_at else None,
        "finished_at": op.finished_at.isoformat() if op.finished_at else None,
        "facts": op.facts,
    }


def wait_seconds(request: web.Request, max_wait: int) -> int:
    """?wait=N, at most DBVEND_MAX_WAIT (422 naming `wait`)."""
    wait = read_query(request, WaitQuery).wait
    if wait > max_wait:
        raise Invalid([FieldError("wait", f"must be at most {max_wait}")])
    return wait


def removal_answer(op: OperationRow, *, waited: bool) -> web.Response:
    """A removal's answer: 204 once it succeeded within ?wait, else 202 with its operation."""
    if waited and op.status == "succeeded":
        return web.Response(status=204)
    return respond(
        Operation,
        operation_view(op),
        status=202,
        headers={"Operation-Location": f"/api/v1/operations/{op.id}"},
    )
