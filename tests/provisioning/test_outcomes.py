"""The worker's outcome decisions, one by one (pure functions, no I/O)."""

from __future__ import annotations

from service.operations.outcomes import (
    Create,
    Delete,
    Repair,
    container_gone,
    create_outcome,
    delete_outcome,
    repair_outcome,
)
from service.operations.runner import HostOutcome

OK = HostOutcome(ok=True)


def test_create_outcomes() -> None:
    assert create_outcome(OK, {"container_id": "c"}, None).action is Create.SUCCEEDED
    # Started but never answered: undo it.
    assert create_outcome(OK, {"container_id": "c"}, "no answer").action is Create.CLEANUP
    assert create_outcome(OK, None, None).action is Create.CLEANUP
    port = create_outcome(HostOutcome(error="DBVEND_PORT_IN_USE:20001 taken"), None, None)
    assert port.action is Create.MOVE_PORT
    assert port.error
    assert "20001" in port.error
    assert create_outcome(HostOutcome(unreachable=True, error="ssh"), None, None).action is Create.MOVE_HOST
    assert (
        create_outcome(HostOutcome(error="Cannot connect to the Docker daemon at x"), None, None).action
        is Create.MOVE_HOST
    )
    assert create_outcome(HostOutcome(error="image not found"), None, None).action is Create.CLEANUP


def test_only_a_deprovision_that_ran_and_succeeded_frees_the_claim() -> None:
    assert container_gone(True, OK)
    assert not container_gone(True, HostOutcome(error="failed"))
    assert not container_gone(True, None)  # never ran
    assert not container_gone(False, OK)  # host not in the inventory


def test_delete_outcomes() -> None:
    assert delete_outcome(True, OK, 1, 3).action is Delete.DELETED
    assert delete_outcome(False, None, 1, 3).action is Delete.REFUSED
    down = delete_outcome(True, HostOutcome(unreachable=True, error="Failed to connect to the host"), 1, 3)
    assert down.action is Delete.DEFERRED
    assert delete_outcome(True, HostOutcome(error="rm failed"), 1, 3).action is Delete.RETRY
    last = delete_outcome(True, HostOutcome(error="rm failed"), 3, 3)
    assert last.action is Delete.FAILED
    assert last.error == "rm failed"


def test_repair_outcomes() -> None:
    facts = {"container_id": "c"}
    assert repair_outcome(OK, facts, None, 1, 3).action is Repair.SUCCEEDED
    # A repair is never moved: a busy port or a failed host is retried like any failure.
    busy = repair_outcome(HostOutcome(error="DBVEND_PORT_IN_USE:20001 taken"), None, None, 1, 3)
    assert busy.action is Repair.RETRY
    assert busy.error
    assert "20001" in busy.error
    assert repair_outcome(HostOutcome(unreachable=True, error="ssh"), None, None, 1, 3).action is Repair.RETRY
    no_answer = repair_outcome(OK, facts, "no answer", 1, 3)
    assert no_answer.action is Repair.RETRY
    assert no_answer.error == "no answer"
    last = repair_outcome(OK, None, None, 3, 3)
    assert last.action is Repair.FAILED
    assert last.error == "the playbook reported no facts for this instance"
