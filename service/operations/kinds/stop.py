"""stop: lifecycle.yml action=stop (a graceful stop; the container, port and data stay).
The instance becomes `stopped`, and its memory no longer counts on the host (db/hosts.py).
A stop that fails for good starts the container again: the row still says `running`."""

from __future__ import annotations

from .lifecycle import LifecycleKind


class StopKind(LifecycleKind):
    name = "stop"
    action = "stop"
    ends_as = "stopped"
    undo_action = "start"
    wait_ready = False
