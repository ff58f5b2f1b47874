"""First start with several processes at once (one database, one state dir): exactly one
creates `admin`, and the password file holds that admin's password, not a loser's."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from service import crypto
from service.accounts.bootstrap import ensure_admin
from service.db.migrate import migrate
from service.db.pool import create_pool
from tests.helpers import create_database, drop_database, settings_from_env, write_inventory


@pytest.fixture
async def fresh_database() -> AsyncIterator[str]:
    url = await create_database()
    yield url
    await drop_database(url)


async def test_concurrent_first_starts_write_the_admin_password_once(
    fresh_database: str, tmp_path: Path
) -> None:
    env = {
        "DATABASE_URL": fresh_database,
        "DBVEND_STATE_DIR": str(tmp_path / "state"),
        "DBVEND_INVENTORY": str(write_inventory(tmp_path / "inventory")),
        "DBVEND_ENV": "development",
    }
    settings = settings_from_env(env, unset=("DBVEND_ADMIN_PASSWORD",))
    assert settings.admin_password is None
    pools = [await create_pool(fresh_database, min_size=1, max_size=2) for _ in range(4)]
    try:
        async with pools[0].acquire() as conn:
            await migrate(conn)
        await asyncio.gather(*(ensure_admin(pool, settings) for pool in pools))
        rows = await pools[0].fetch("SELECT username, password_hash FROM users")
    finally:
        for pool in pools:
            await pool.close()
    assert [r["username"] for r in rows] == ["admin"]
    written = settings.admin_password_file.read_text().strip()
    assert crypto.verify_password(rows[0]["password_hash"], written)
    assert settings.admin_password_file.stat().st_mode & 0o777 == 0o600
