"""A real browser (Debian's chromium, driven by Playwright's async API: the service runs in
this process's event loop, so nothing here may block it) on the session's service.

One browser for the session; a fresh context per test (no shared storage). Each session
records the API requests its page sends, so a test can check that nothing left the browser
before a dialog was confirmed. The tests share one user with a running Redis and a running
MySQL (made on first use) where that weakens nothing; a test that breaks or deletes
something makes its own."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, BrowserContext, Page, async_playwright, expect

from tests.helpers import Api

CHROMIUM = Path("/usr/bin/chromium")
TIMEOUT_MS = 15_000
# An assertion waits as long as an action may (not Playwright's 5 s): on two loaded cores an
# argon2 hash or an inventory reload alone can take longer, and a passing wait ends early.
expect.set_options(timeout=TIMEOUT_MS)


@dataclass
class Session:
    """One user's browser context and page, with every page error and console error kept."""

    context: BrowserContext
    page: Page
    base: str
    errors: list[str] = field(default_factory=list)
    # (method, path) of every /api/v1 request the page sent, in order.
    requests: list[tuple[str, str]] = field(default_factory=list)

    def changes(self) -> list[tuple[str, str]]:
        """The requests that change something (anything but GET and the login)."""
        return [(m, p) for m, p in self.requests if m != "GET" and p != "/auth/login"]

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

    async def make(width: int = 1280, height: int = 900) -> Session:
        viewport = {"width": width, "height": height}
        context = await browser.new_context(accept_downloads=True, viewport=viewport)
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
        page.on(
            "request",
            lambda req: (
                session.requests.append((req.method, req.url.split("/api/v1", 1)[1]))
                if "/api/v1/" in req.url
                else None
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


@dataclass(frozen=True)
class Shared:
    """A user the browser tests share, with a token for the API side of the checks."""

    username: str
    password: str
    token: str


@pytest.fixture(scope="session")
async def shared(service: Api, make_login: Any) -> Shared:
    username, password = await make_login("shared")
    return Shared(username, password, await service.login(username, password))


async def _running(service: Api, token: str, body: dict[str, Any]) -> dict[str, Any]:
    status, inst = await service.call("POST", "/instances?wait=300", token, json=body)
    assert status == 201, inst
    return dict(inst)


@pytest.fixture(scope="session")
async def shared_redis(service: Api, shared: Shared) -> dict[str, Any]:
    """A running Redis of the shared user's (16mb: small), as created."""
    return await _running(
        service, shared.token, {"engine": "redis", "name": "shared-cache", "settings": {"maxmemory": "16mb"}}
    )


@pytest.fixture(scope="session")
async def shared_mysql(service: Api, shared: Shared) -> dict[str, Any]:
    """A running MySQL of the shared user's (192 MB), as created."""
    return await _running(
        service, shared.token, {"engine": "mysql", "name": "shared-db", "settings": {"memory_mb": 192}}
    )


AXE = Path(__file__).resolve().parents[2] / "console" / "test-assets" / "axe.min.js"


async def axe_violations(page: Page) -> list[str]:
    """axe-core (bundled at build time: console/test-assets) on the page as it is: the
    serious and critical violations, each as "rule: what, where"."""
    if not await page.evaluate("typeof window.axe !== 'undefined'"):
        await page.evaluate(AXE.read_text())
    found = await page.evaluate(
        """async () => {
          const r = await axe.run(document, {resultTypes: ["violations"]});
          return r.violations.filter((v) => v.impact === "serious" || v.impact === "critical")
            .map((v) => `${v.id}: ${v.help} at `
              + v.nodes.slice(0, 3).map((n) => n.target.join(" ")).join(", "));
        }"""
    )
    return list(found)


async def fits_width(page: Page) -> tuple[int, int]:
    """(scrollWidth, clientWidth) of the document: no sideways scrolling when the first is
    not larger."""
    found = await page.evaluate(
        "[document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
    return int(found[0]), int(found[1])


async def asks_first(web: Session, opener: Any, confirm: str, method: str, path: str) -> None:
    """Clicks `opener`: a dialog opens and nothing has been sent; Cancel closes it, still
    nothing sent; opened again, its `confirm` button sends `method path` (the path without
    its query)."""
    page = web.page
    before = len(web.changes())
    await opener.click()
    dialog = page.get_by_role("dialog")
    await expect(dialog).to_be_visible()
    assert web.changes()[before:] == [], web.changes()[before:]
    await dialog.get_by_role("button", name="Cancel").click()
    await expect(dialog).to_have_count(0)
    assert web.changes()[before:] == [], web.changes()[before:]
    await opener.click()
    await expect(dialog).to_be_visible()
    assert web.changes()[before:] == [], web.changes()[before:]
    async with page.expect_request(
        lambda r: r.method == method and r.url.split("/api/v1", 1)[-1].split("?", 1)[0] == path
    ):
        await dialog.get_by_role("button", name=confirm, exact=True).click()
    assert [(m, p.split("?", 1)[0]) for m, p in web.changes()[before:]] == [(method, path)]
