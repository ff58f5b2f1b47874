"""Results on stdout: the API's JSON as it came (--output json) or rich tables."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from .session import options


def _print(table: Table) -> None:
    console = Console()
    if console.is_terminal:
        console.print(table)
        return
    # Into a pipe or a file: wide enough that a URI is never folded, no trailing padding.
    console = Console(width=1000, no_color=True)
    with console.capture() as captured:
        console.print(table)
    click.echo("\n".join(line.rstrip() for line in captured.get().splitlines()))


def emit_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, sort_keys=False))


def emit(value: Any, table: Table | str) -> None:
    """The JSON under --output json, else the table (or a line of text)."""
    if options().json:
        emit_json(value)
    elif isinstance(table, str):
        click.echo(table)
    else:
        _print(table)


def _size(mb: Any) -> str:
    return f"{mb} MB" if isinstance(mb, int) else "-"


def _settings_text(settings: dict[str, Any]) -> str:
    # JSON spellings (true, not True): what `--set key=value` takes back.
    return ", ".join(f"{k}={v if isinstance(v, str) else json.dumps(v)}" for k, v in settings.items())


def instances_table(items: Iterable[dict[str, Any]]) -> Table:
    table = Table("ID", "NAME", "ENGINE", "STATUS", "ADDRESS", "MEMORY", "CREATED", box=None, pad_edge=False)
    for inst in items:
        place = inst["placement"]
        table.add_row(
            inst["id"],
            inst["name"],
            inst["engine"],
            inst["status"],
            f"{place['address']}:{place['port']}",
            _size(inst.get("memory_mb")),
            str(inst["created_at"])[:19].replace("T", " "),
        )
    return table


def instance_table(inst: dict[str, Any]) -> Table:
    """One instance, as key-value rows; the password is shown (it is the user's own)."""
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    conn = inst.get("connection") or {}
    health = inst.get("health")
    rows: list[tuple[str, Any]] = [
        ("id", inst["id"]),
        ("name", inst["name"]),
        ("engine", inst["engine"]),
        ("status", inst["status"]),
        ("health", health["state"] if isinstance(health, dict) else None),
        ("owner", inst["owner"]),
        ("memory", _size(inst.get("memory_mb"))),
        ("settings", _settings_text(inst.get("settings") or {})),
        ("host", conn.get("host")),
        ("port", conn.get("port")),
        ("database", conn.get("database")),
        ("username", conn.get("username")),
        ("password", conn.get("password")),
        ("uri", conn.get("uri")),
        ("connect", f"dbvend connect {inst['name']}"),
        ("server", (inst.get("facts") or {}).get("server_version")),
        ("created", inst.get("created_at")),
        ("error", inst.get("error")),
    ]
    for key, value in rows:
        if value not in (None, ""):
            table.add_row(key, str(value))
    return table


def changes_line(changes: dict[str, Any] | None) -> str | None:
    if not changes:
        return None
    parts = []
    if changes.get("live"):
        parts.append("applied live: " + ", ".join(changes["live"]))
    if changes.get("restart"):
        parts.append("with a restart: " + ", ".join(changes["restart"]))
    if changes.get("convert"):
        parts.append("database charset converted")
    return "; ".join(parts) or "nothing to change"


def backups_table(items: Iterable[dict[str, Any]]) -> Table:
    table = Table("ID", "STATUS", "FORMAT", "SIZE", "CREATED", "KIND", box=None, pad_edge=False)
    for b in items:
        kind = "final" if b.get("final") else "scheduled" if b.get("scheduled") else "manual"
        size = b.get("size_bytes")
        table.add_row(
            b["id"],
            b["status"],
            b["format"],
            f"{size} B" if isinstance(size, int) else "-",
            str(b["created_at"])[:19].replace("T", " "),
            kind,
        )
    return table


def backup_table(b: dict[str, Any]) -> Table:
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    for key in ("id", "instance_id", "status", "format", "size_bytes", "sha256", "created_at", "error"):
        if b.get(key) not in (None, ""):
            table.add_row(key.replace("_", " "), str(b[key]))
    return table
