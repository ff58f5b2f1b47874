"""Alert rules: built-in ones seeded by the migration, more added by admins."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from asyncpg import Record

    from . import Executor


@dataclass(frozen=True)
class Rule:
    id: int
    name: str
    condition: str
    threshold: float | None
    params: dict[str, Any]
    for_seconds: int
    keep_firing_for_seconds: int
    severity: str
    labels: dict[str, str]
    description: str
    enabled: bool
    builtin: bool
    created_at: datetime
    updated_at: datetime


def _rule(r: Record) -> Rule:
    return Rule(**{k: r[k] for k in Rule.__dataclass_fields__})


# Columns a create or an update may set.
EDITABLE = (
    "condition",
    "threshold",
    "params",
    "for_seconds",
    "keep_firing_for_seconds",
    "severity",
    "labels",
    "description",
    "enabled",
)


async def list_all(db: Executor, *, enabled_only: bool = False) -> list[Rule]:
    rows = await db.fetch("SELECT * FROM rules WHERE ($1 = false OR enabled) ORDER BY id", enabled_only)
    return [_rule(r) for r in rows]


async def get(db: Executor, name: str) -> Rule | None:
    row = await db.fetchrow("SELECT * FROM rules WHERE name = $1", name)
    return _rule(row) if row else None


async def create(db: Executor, name: str, values: dict[str, Any]) -> Rule | None:
    """None when the name is taken."""
    columns = [c for c in EDITABLE if c in values]
    placeholders = ", ".join(f"${i + 2}" for i in range(len(columns)))
    row = await db.fetchrow(
        f"INSERT INTO rules (name{''.join(', ' + c for c in columns)})"
        f" VALUES ($1{', ' if columns else ''}{placeholders})"
        " ON CONFLICT (name) DO NOTHING RETURNING *",
        name,
        *(values[c] for c in columns),
    )
    return _rule(row) if row else None


async def update(db: Executor, name: str, values: dict[str, Any]) -> Rule | None:
    columns = [c for c in EDITABLE if c in values]
    if not columns:
        return await get(db, name)
    assignments = ", ".join(f"{c} = ${i + 2}" for i, c in enumerate(columns))
    row = await db.fetchrow(
        f"UPDATE rules SET {assignments}, updated_at = now() WHERE name = $1 RETURNING *",
        name,
        *(values[c] for c in columns),
    )
    return _rule(row) if row else None


async def delete(db: Executor, name: str) -> bool:
    result = await db.execute("DELETE FROM rules WHERE name = $1", name)
    return result.endswith(" 1")
