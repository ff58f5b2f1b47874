"""The day-2 kinds' outcome decisions and the quota rule for a bigger size (pure, no I/O)."""

from __future__ import annotations

import pytest

from service.db.users import Usage
from service.operations.kinds import KINDS
from service.operations.kinds.lifecycle import LifecycleKind
from service.operations.outcomes import Action, action_outcome, gave_up
from service.operations.quota import QuotaDefaults, growth_verdict
from service.operations.runner import HostOutcome

OK = HostOutcome(ok=True)
FACTS = {"container_id": "c", "status": "running"}


def test_a_play_that_ran_and_answered_succeeds() -> None:
    assert action_outcome(OK, FACTS, None, 1, 3).action is Action.SUCCEEDED


@pytest.mark.parametrize(
    ("outcome", "facts", "not_ready"),
    [
        (OK, FACTS, "did not accept the application account"),  # started, never answered
        (OK, None, None),  # no facts: the play did not reach the report
        (HostOutcome(unreachable=True, error="ssh: no route"), None, None),  # the host, not the instance
        (HostOutcome(error="Cannot create container when image is not specified!"), None, None),
        (HostOutcome(error="DBVEND_PORT_IN_USE:20001 taken"), None, None),  # never moved
    ],
)
def test_every_other_end_is_retried_then_fails_with_its_reason(
    outcome: HostOutcome, facts: dict[str, str] | None, not_ready: str | None
) -> None:
    retry = action_outcome(outcome, facts, not_ready, 1, 3)
    assert retry.action is Action.RETRY
    assert retry.error
    last = action_outcome(outcome, facts, not_ready, 3, 3)
    assert last.action is Action.FAILED
    assert last.error == retry.error


def test_a_crash_loop_gives_up_only_past_the_last_attempt() -> None:
    assert not gave_up(3, 3)
    assert gave_up(4, 3)


@pytest.mark.parametrize(
    ("kind", "previous", "target"),
    [("stop", "running", "stopped"), ("start", "stopped", "running"), ("restart", "running", "running")],
)
def test_the_status_is_the_requested_one_or_the_previous_one(kind: str, previous: str, target: str) -> None:
    # What the worker runs (kinds/lifecycle.py): a success writes `ends_as`; a kind runs only
    # from its `runs_from`, and a failure writes no status, so the previous one stays.
    lifecycle = KINDS[kind]
    assert isinstance(lifecycle, LifecycleKind)
    assert lifecycle.ends_as == target
    assert previous in lifecycle.runs_from


def test_a_bigger_size_counts_against_the_memory_quota_only() -> None:
    limits = QuotaDefaults(instances=1, memory_mb=1000)
    at_the_instance_limit = Usage(None, None, instances=1, memory_mb=600)
    assert growth_verdict(at_the_instance_limit, 400, limits) is None  # no new instance
    refused = growth_verdict(at_the_instance_limit, 401, limits)
    assert refused is not None
    assert refused.field == "quota.memory_mb"
    assert growth_verdict(Usage(None, None, 1, 2000), 0, limits) is None  # shrinking or same size
    assert growth_verdict(Usage(None, 500, 1, 400), 101, limits) is not None  # the user's own limit
