"""Versioned SQL migrations, applied in file-name order under an advisory lock."""

from __future__ import annotations

from importlib import resources
from typing import TYPE_CHECKING

from . import locks

if TYPE_CHECKING:
    from . import Conn


def _migrations() -> list[tuple[str, str]]:
    folder = resources.files(__package__).joinpath("migrations")
    return sorted((f.name, f.read_text()) for f in folder.iterdir() if f.name.endswith(".sql"))


async def migrate(conn: Conn) -> list[str]:
    """Apply what is missing; returns the names applied now."""
    applied_now: list[str] = []
    async with locks.held(conn, locks.MIGRATIONS):
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        done = {r["name"] for r in await conn.fetch("SELECT name FROM schema_migrations")}
        for name, sql in _migrations():
            if name in done:
                continue
            async with conn.transaction():
                await conn.execute(sql)
                await conn.execute("INSERT INTO schema_migrations (name) VALUES ($1)", name)
            applied_now.append(name)
    return applied_now
