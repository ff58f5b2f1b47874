"""Backup schedules as pure decisions: which policies are valid, when the next scheduled
backup is due (from the store's newest one, never from memory) and which completed
scheduled backups a policy prunes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from service.backups.policy import BackupPolicy, Kept, due_at, is_due, load, to_prune

NOW = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ({"interval_hours": 0, "keep": 1}, "interval_hours"),
        ({"interval_hours": 721, "keep": 1}, "interval_hours"),
        ({"interval_hours": "24", "keep": 1}, "interval_hours"),
        ({"interval_hours": 1.5, "keep": 1}, "interval_hours"),
        ({"interval_hours": True, "keep": 1}, "interval_hours"),
        ({"interval_hours": 24, "keep": 0}, "keep"),
        ({"interval_hours": 24, "keep": 101}, "keep"),
        ({"interval_hours": 24}, "keep"),
        ({"interval_hours": 24, "keep": 7, "cron": "* * * * *"}, "cron"),
    ],
)
def test_bad_policies_name_the_field(raw: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationError) as exc:
        BackupPolicy.model_validate(raw)
    assert any(err["loc"][0] == field for err in exc.value.errors())


def test_bounds_are_inclusive() -> None:
    assert BackupPolicy.model_validate({"interval_hours": 1, "keep": 1}).keep == 1
    assert BackupPolicy.model_validate({"interval_hours": 720, "keep": 100}).interval_hours == 720


def test_a_stored_policy_the_model_refuses_reads_as_none() -> None:
    assert load(None) is None
    assert load({}) is None
    assert load({"interval_hours": 9999, "keep": 1}) is None
    assert load({"interval_hours": 2, "keep": 3}) == BackupPolicy(interval_hours=2, keep=3)


def test_first_backup_is_due_at_once_then_one_interval_after_the_last() -> None:
    policy = BackupPolicy(interval_hours=24, keep=7)
    assert is_due(policy, None, NOW, 3600)
    last = NOW - timedelta(hours=23, minutes=59)
    assert not is_due(policy, last, NOW, 3600)
    assert due_at(policy, last, NOW, 3600) == last + timedelta(hours=24)
    assert is_due(policy, NOW - timedelta(hours=24), NOW, 3600)


def test_the_hour_unit_is_the_test_knob() -> None:
    policy = BackupPolicy(interval_hours=3, keep=1)
    last = NOW - timedelta(seconds=5)
    assert not is_due(policy, last, NOW, 2)  # 3 "hours" of 2 s = 6 s
    assert is_due(policy, NOW - timedelta(seconds=6), NOW, 2)


def test_prune_keeps_the_newest_and_returns_the_rest_oldest_first() -> None:
    backups = [Kept(f"b-{n:06d}", NOW - timedelta(hours=n)) for n in (3, 0, 5, 1, 4, 2)]
    assert to_prune(backups, 2) == ["b-000005", "b-000004", "b-000003", "b-000002"]
    assert to_prune(backups, 6) == []
    assert to_prune(backups, 100) == []
    assert to_prune([], 1) == []


def test_prune_breaks_ties_on_the_id() -> None:
    same = [Kept("b-aaaaaa", NOW), Kept("b-bbbbbb", NOW)]
    assert to_prune(same, 1) == ["b-aaaaaa"]
