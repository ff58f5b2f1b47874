"""Pieces every /v2 route uses: the async-only rule, body parsing with OSB's 400, and
last_operation from dbvend's own operation records."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

from ..db import broker as repo
from ..engines.base import pydantic_errors
from .protocol import OSB_ID, BrokerError
from .services import Broker

M = TypeVar("M", bound=BaseModel)
_STATES = {"pending": "in progress", "running": "in progress", "succeeded": "succeeded", "failed": "failed"}


def accepts_incomplete(request: web.Request) -> bool:
    value = request.query.get("accepts_incomplete", "false")
    if value not in ("true", "false"):
        raise BrokerError(400, "accepts_incomplete must be true or false")
    return value == "true"


def async_required(request: web.Request) -> None:
    if not accepts_incomplete(request):
        raise BrokerError(
            422,
            "this broker provisions, updates and deletes asynchronously: send accepts_incomplete=true",
            "AsyncRequired",
        )


def body_of(model: type[M], body: dict[str, Any]) -> M:
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        parts = "; ".join(f"{e.field}: {e.message}" for e in pydantic_errors(exc, "")[:10])
        raise BrokerError(400, f"invalid request: {parts}") from None


def differing(recorded: Mapping[str, Any], asked: Mapping[str, Any]) -> list[str]:
    """The attributes of a repeated PUT that differ from the first request's (the 409 names
    them). An attribute the record lacks (a row made before migration 0031) is not judged."""
    return sorted(key for key, value in asked.items() if key in recorded and recorded[key] != value)


async def osb_state(
    svc: Broker, request: web.Request, osb_id: str, binding_id: str | None, *, live: bool
) -> web.Response:
    """last_operation of a service instance or binding the broker made (the caller answers 404
    for one it never made): the operation asked about, else the last one the broker queued for
    it. `live`: it still exists; one that is gone and whose operation is no longer recorded
    (retention) is 410, which a platform polling its deprovision takes as done."""
    asked = request.query.get("operation")
    if asked is not None and not OSB_ID.fullmatch(asked):
        raise BrokerError(400, "operation: not an operation of this service instance or binding")
    if asked is None:
        operation_id = await repo.last_operation(svc.pool, osb_id, binding_id)
    else:
        known = await repo.operation_of(svc.pool, asked, osb_id, binding_id)
        operation_id = asked if known else None
    op = await svc.instances.operation(operation_id) if operation_id is not None else None
    if op is None:
        if not live:
            # Gone, and what it went through no longer recorded (retention): a deprovision's end.
            return web.json_response({}, status=410)
        if asked is not None:
            raise BrokerError(400, "operation: not an operation of this service instance or binding")
        # Only finished operations older than the retention go; a platform polls for minutes.
        raise BrokerError(400, "no operation of this service instance or binding is recorded any more")
    state = _STATES.get(op.status, "in progress")
    description = op.error if op.status == "failed" and op.error else f"{op.kind} {op.status}"
    return web.json_response({"state": state, "description": description})
