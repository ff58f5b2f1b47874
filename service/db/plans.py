"""An admin's run-time availability switch of plans (plans.yml's `available` is the default)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from . import Executor


async def overrides(db: Executor) -> dict[tuple[str, str], bool]:
    rows = await db.fetch("SELECT engine, plan, available FROM plan_availability")
    return {(r["engine"], r["plan"]): r["available"] for r in rows}


async def override(db: Executor, engine: str, plan: str) -> bool | None:
    value = await db.fetchval(
        "SELECT available FROM plan_availability WHERE engine = $1 AND plan = $2", engine, plan
    )
    return None if value is None else bool(value)


async def set_available(db: Executor, engine: str, plan: str, available: bool, by: int) -> None:
    await db.execute(
        "INSERT INTO plan_availability (engine, plan, available, updated_by) VALUES ($1, $2, $3, $4)"
        " ON CONFLICT (engine, plan) DO UPDATE SET available = $3, updated_by = $4, updated_at = now()",
        engine,
        plan,
        available,
        by,
    )
