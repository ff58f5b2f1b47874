"""Command-line values that become settings: `--set key=value` and memory sizes. The API
validates them (and names the field when it refuses); these only give them a JSON type."""

from __future__ import annotations

import json
import re
from typing import Any

import click

_KEY = re.compile(r"[a-z][a-z0-9_]{0,63}")
_MEGABYTES = re.compile(r"(\d{1,9})\s*(mb|m|gb|g)?", re.IGNORECASE)


def parse_set(_: click.Context | None, __: click.Parameter | None, pairs: tuple[str, ...]) -> dict[str, Any]:
    """key=value pairs; a value that reads as a JSON number, boolean or null is sent as
    one (maxclients=100, appendonly=true), anything else as a string (maxmemory=256mb)."""
    settings: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not _KEY.fullmatch(key):
            raise click.BadParameter(f"{pair!r} is not key=value (a setting name such as maxmemory)")
        settings[key] = _typed(raw)
    return settings


def _typed(raw: str) -> Any:
    try:
        value = json.loads(raw)
    except ValueError:
        return raw
    return value if value is None or isinstance(value, bool | int | float) else raw


def parse_megabytes(_: click.Context | None, __: click.Parameter | None, value: str | None) -> int | None:
    """--memory 512, 512mb or 1gb: a whole number of megabytes."""
    if value is None:
        return None
    match = _MEGABYTES.fullmatch(value.strip())
    if match is None:
        raise click.BadParameter(f"{value!r} is not a size in MB such as 512, 512mb or 1gb")
    number, unit = int(match[1]), (match[2] or "mb").lower()
    return number * 1024 if unit in ("gb", "g") else number
