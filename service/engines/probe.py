"""What engines' network clients return and raise: a probe result for monitoring, and the
one error a readiness attempt raises whatever the client library."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ProbeResult:
    """A monitoring probe's answer; a probe never raises."""

    up: bool
    metrics: dict[str, Any] = field(default_factory=dict)
    error: str | None = None


class EngineUnavailable(Exception):
    """The server did not answer a client (the message is the client's first line, which
    never holds the password)."""


def describe(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text.splitlines()[0][:300]


def as_int(value: object) -> int | None:
    if isinstance(value, int | float | str) and not isinstance(value, bool):
        try:
            return int(value)
        except ValueError:
            return None
    return None
