"""Everything dbvend knows about each engine, behind one interface (base.Engine): settings
and how they change, sizing, role variables, connection details, readiness and probes.
The rest of the service asks the engine; a new engine is a module here and a role."""

from __future__ import annotations

import functools
import operator
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel

from ..errors import FieldError, SettingsError
from .base import Credentials, Engine, Rekey, RekeyFailed, Restart, SettingsChange, TlsDetails
from .mysql import MysqlEngine
from .probe import EngineUnavailable, ProbeResult
from .redis import RedisEngine

ENGINES: dict[str, Engine[Any]] = {engine.name: engine for engine in (MysqlEngine(), RedisEngine())}
ENGINE_NAMES: tuple[str, ...] = tuple(ENGINES)
BACKUP_FORMATS: tuple[str, ...] = tuple(e.backup_format for e in ENGINES.values())

if TYPE_CHECKING:
    EngineName = str
    BackupFormat = str
    ConnectionDetails = BaseModel
else:
    # For request and response models: the JSON Schema lists the engines by name (and their
    # backup formats), and an instance's connection is one of the engines' connection models.
    EngineName = Literal[ENGINE_NAMES]
    BackupFormat = Literal[BACKUP_FORMATS]
    ConnectionDetails = functools.reduce(operator.or_, (e.connection_model for e in ENGINES.values()))


def get_engine(name: str) -> Engine[Any]:
    try:
        return ENGINES[name]
    except KeyError:
        raise SettingsError([FieldError("engine", f"must be one of: {', '.join(sorted(ENGINES))}")]) from None


__all__ = [
    "BACKUP_FORMATS",
    "ENGINES",
    "ENGINE_NAMES",
    "BackupFormat",
    "ConnectionDetails",
    "Credentials",
    "Engine",
    "EngineName",
    "EngineUnavailable",
    "FieldError",
    "ProbeResult",
    "Rekey",
    "RekeyFailed",
    "Restart",
    "SettingsChange",
    "SettingsError",
    "TlsDetails",
    "get_engine",
]
