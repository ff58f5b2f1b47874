"""What the worker does with the result of a play: pure decisions, no I/O.

The worker asks these functions what an outcome means and then records it (fenced by its
lease, see db/operations.py); keeping the decisions here lets them be tested one by one
and lets each operation kind move to its own module without carrying the rules along."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum
from typing import Any

from .runner import HostOutcome

PORT_IN_USE = "DBVEND_PORT_IN_USE:"
# A play that fails for these reasons failed because of the host, not the instance.
_HOST_FAILURE = re.compile(
    r"Cannot connect to the Docker daemon|Error connecting:|Connection refused|No route to host"
    r"|Connection timed out|Failed to connect to the host",
    re.IGNORECASE,
)


def host_failed(unreachable: bool, error: str) -> bool:
    return unreachable or bool(_HOST_FAILURE.search(error))


def backoff(attempt: int) -> float:
    return float(min(60, 2**attempt))


class Create(Enum):
    SUCCEEDED = "succeeded"
    MOVE_PORT = "move_port"  # something outside dbvend listens on the port
    MOVE_HOST = "move_host"  # the host failed under the play
    CLEANUP = "cleanup"  # undo what the play made, then retry or fail


@dataclass(frozen=True)
class CreateDecision:
    action: Create
    error: str | None = None


def create_outcome(
    outcome: HostOutcome, facts: dict[str, Any] | None, not_ready: str | None
) -> CreateDecision:
    """A create (or repair) play's result for one instance."""
    if not_ready is not None:
        return CreateDecision(Create.CLEANUP, not_ready)
    if outcome.ok and facts:
        return CreateDecision(Create.SUCCEEDED)
    error = outcome.error or "the playbook reported no facts for this instance"
    if PORT_IN_USE in error:
        return CreateDecision(Create.MOVE_PORT, error)
    if host_failed(outcome.unreachable, error):
        return CreateDecision(Create.MOVE_HOST, error)
    return CreateDecision(Create.CLEANUP, error)


class Repair(Enum):
    SUCCEEDED = "succeeded"  # the container runs and answers again: refresh its facts
    RETRY = "retry"  # try the operation again later
    FAILED = "failed"  # out of attempts: the instance stays `running`, an event says so


@dataclass(frozen=True)
class RepairDecision:
    action: Repair
    error: str | None = None


def repair_outcome(
    outcome: HostOutcome,
    facts: dict[str, Any] | None,
    not_ready: str | None,
    attempts: int,
    max_attempts: int,
) -> RepairDecision:
    """A repair play's result: a create's success is a repair's; any other end is retried
    (never moved: the instance keeps its host, port and data) until out of attempts."""
    decision = create_outcome(outcome, facts, not_ready)
    if decision.action is Create.SUCCEEDED:
        return RepairDecision(Repair.SUCCEEDED)
    error = decision.error or "the playbook reported no facts for this instance"
    if attempts < max_attempts:
        return RepairDecision(Repair.RETRY, error)
    return RepairDecision(Repair.FAILED, error)


def container_gone(host_known: bool, outcome: HostOutcome | None) -> bool:
    """Only a deprovision that ran and succeeded proves the container is gone: until then the
    instance keeps its port claim (and so its committed memory) on that host."""
    return host_known and outcome is not None and outcome.ok


class Delete(Enum):
    DELETED = "deleted"  # the container is gone: release the port, mark deleted
    DEFERRED = "deferred"  # the host is down: deleted for the user, cleanup runs when it answers
    RETRY = "retry"  # the play failed on a host that answers: try the operation again
    FAILED = "failed"  # out of attempts: the instance is failed and keeps its port claim
    REFUSED = "refused"  # the host left the inventory: nothing can be undone there


@dataclass(frozen=True)
class DeleteDecision:
    action: Delete
    error: str | None = None


def delete_outcome(
    host_known: bool, outcome: HostOutcome | None, attempts: int, max_attempts: int
) -> DeleteDecision:
    if not host_known:
        return DeleteDecision(Delete.REFUSED)
    assert outcome is not None
    if outcome.ok:
        return DeleteDecision(Delete.DELETED)
    error = outcome.error or "the deprovision playbook failed"
    if host_failed(outcome.unreachable, error):
        return DeleteDecision(Delete.DEFERRED, error)
    if attempts < max_attempts:
        return DeleteDecision(Delete.RETRY, error)
    return DeleteDecision(Delete.FAILED, error)


class Action(Enum):
    SUCCEEDED = "succeeded"  # record the requested state (and the new settings or secrets)
    RETRY = "retry"  # run the operation again later: every day-2 play is idempotent
    FAILED = "failed"  # out of attempts: the instance stays as it was, the operation says why


@dataclass(frozen=True)
class ActionDecision:
    action: Action
    error: str | None = None


def action_outcome(
    outcome: HostOutcome,
    facts: dict[str, Any] | None,
    not_ready: str | None,
    attempts: int,
    max_attempts: int,
) -> ActionDecision:
    """A stop/start/restart/reconfigure/rotate play's result for one instance. Nothing is
    ever moved (the instance keeps its host, port and data): any failure, of the host or of
    the server, is retried until the attempts run out."""
    if not_ready is None and outcome.ok and facts:
        return ActionDecision(Action.SUCCEEDED)
    error = not_ready or outcome.error or "the playbook reported no facts for this instance"
    if attempts < max_attempts:
        return ActionDecision(Action.RETRY, error)
    return ActionDecision(Action.FAILED, error)


def gave_up(attempts: int, max_attempts: int) -> bool:
    """Claimed more often than allowed: each claim past the last was a worker that died in
    the middle (a crash loop), so the operation ends rather than runs once more."""
    return attempts > max_attempts
