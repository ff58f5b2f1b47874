"""Fixtures of the store's tests: a database of the test's own (the CA is one per database)
and a pool on it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest

from service.db.pool import create_pool
from tests.helpers import create_database, drop_database


@pytest.fixture
async def url() -> AsyncIterator[str]:
    url = await create_database()
    yield url
    await drop_database(url)


@pytest.fixture
async def pool(url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(url, min_size=1, max_size=4)
    yield pool
    await pool.close()
