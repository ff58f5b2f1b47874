"""The service's settings: read from DBVEND_* environment variables once at start
(environment.py) into one Settings object (settings.py) that is passed in. Outside
development they refuse unsafe values (an encryption key kept next to the data it protects,
an embedded throw-away database, a short admin password, a guessable broker password), so a
production start fails loudly instead of running insecurely. The environment is read here
and nowhere else in service/ (the CLI, a separate client, reads its own)."""

from __future__ import annotations

from ..pids import local_scope
from .environment import load_settings, process_environment
from .settings import PROJECT_ROOT, BrokerSettings, ConfigError, Settings

__all__ = [
    "PROJECT_ROOT",
    "BrokerSettings",
    "ConfigError",
    "Settings",
    "load_settings",
    "local_scope",
    "process_environment",
]
