"""restart: lifecycle.yml action=restart (one restart of the container), then the
readiness check; the instance stays `running`."""

from __future__ import annotations

from .lifecycle import LifecycleKind


class RestartKind(LifecycleKind):
    name = "restart"
    action = "restart"
