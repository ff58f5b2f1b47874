"""What dbvend knows about each engine. No I/O here."""

from __future__ import annotations

from .base import Credentials, Engine, FieldError, SettingsError
from .mysql import MysqlEngine
from .redis import RedisEngine

ENGINES: dict[str, Engine] = {engine.name: engine for engine in (MysqlEngine(), RedisEngine())}


def get_engine(name: str) -> Engine:
    try:
        return ENGINES[name]
    except KeyError:
        raise SettingsError([FieldError("engine", f"must be one of: {', '.join(sorted(ENGINES))}")]) from None


__all__ = ["ENGINES", "Credentials", "Engine", "FieldError", "SettingsError", "get_engine"]
