"""start: lifecycle.yml action=start for a stopped instance, then the readiness check with
its (unchanged) credentials. Its memory was reserved when the start was accepted
(instances/day2.py). A start that fails for good stops the container again, so the
instance is `stopped` as its row says, not running behind dbvend's back."""

from __future__ import annotations

from .lifecycle import LifecycleKind


class StartKind(LifecycleKind):
    name = "start"
    action = "start"
    runs_from = ("stopped",)
    undo_action = "stop"
