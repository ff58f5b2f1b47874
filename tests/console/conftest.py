"""A real browser (Debian's chromium, driven by Playwright's async API: the service runs in
this process's event loop, so nothing here may block it) on the session's service."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, BrowserContext, Page, async_playwright

from tests.helpers import Api

CHROMIUM = Path("/usr/bin/chromium")
TIMEOUT_MS = 15_000


@dataclass
class Session:
    """One user's browser context and page, with every page error and console error kept."""

    context: BrowserContext
    page: Page
    base: str
    errors: list[str] = field(default_factory=list)

    async def login(self, username: str, password: str) -> None:
        page = self.page
        await page.goto(self.base + "/console/")
        await page.get_by_label("Username").fill(username)
        await page.get_by_label("Password").fill(password)
        await page.get_by_role("button", name="Log in").click()
        await page.get_by_role("heading", name="Instances").wait_for()


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail("chromium is missing: run scripts/ensure-browser.sh (make setup does)")
    async with async_playwright() as pw:
        found = await pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox"])
        yield found
        await found.close()


@pytest.fixture(scope="session")
def base_url(service: Api) -> str:
    return str(service.client.make_url("/")).rstrip("/")


@pytest.fixture
async def open_session(browser: Browser, base_url: str) -> AsyncIterator[Any]:
    """Opens fresh browser contexts (no shared storage) and closes them after the test."""
    opened: list[Session] = []

    async def make() -> Session:
        context = await browser.new_context(accept_downloads=True, viewport={"width": 1280, "height": 900})
        await context.grant_permissions(["clipboard-read", "clipboard-write"], origin=base_url)
        context.set_default_timeout(TIMEOUT_MS)
        page = await context.new_page()
        session = Session(context, page, base_url)
        page.on("pageerror", lambda exc: session.errors.append(f"page error: {exc}"))
        page.on(
            "console",
            lambda msg: (
                session.errors.append(f"console {msg.type}: {msg.text}") if msg.type == "error" else None
            ),
        )
        opened.append(session)
        return session

    yield make
    for session in opened:
        await session.context.close()


@pytest.fixture(scope="session")
async def make_login(service: Api, admin_token: str) -> Any:
    """A fresh user with a known password: (username, password)."""

    async def make(prefix: str = "web") -> tuple[str, str]:
        username = f"{prefix}-{secrets.token_hex(3)}"
        password = secrets.token_urlsafe(16)
        status, body = await service.call(
            "POST", "/users", admin_token, json={"username": username, "password": password}
        )
        assert status == 201, body
        return username, password

    return make
