"""Every page of the console at a phone's 390x844, in one pass per user: nothing scrolls
sideways (the document's scrollWidth is not larger than its clientWidth), no long value
(the URI, the CLI line) is broken inside a token, and axe-core finds no serious or critical
violation, dialogs open included. The instance page and the list again at 360 and 1440."""

from __future__ import annotations

import os
from typing import Any

from playwright.async_api import expect

from tests.console.conftest import Shared, axe_violations, fits_width
from tests.helpers import ADMIN_PASSWORD, Api

PHONE = (390, 844)


# DBVEND_CONSOLE_SHOTS=<dir>: a full-page screenshot of every page checked, for a look.
SHOTS = os.environ.get("DBVEND_CONSOLE_SHOTS")


async def _check(web: Any, what: str, problems: list[str]) -> None:
    page = web.page
    if SHOTS:
        await page.screenshot(path=f"{SHOTS}/{what.replace(' ', '-').replace('…', '')}.png", full_page=True)
    scroll, client = await fits_width(page)
    if scroll > client:
        wide = await page.evaluate(
            """(w) => [...document.querySelectorAll('body *')]
                .map((e) => [e, Math.round(e.getBoundingClientRect().right)]).filter(([, r]) => r > w + 1)
                .slice(0, 5).map(([e, r]) => `${e.tagName}.${e.className} ${r}`)""",
            client,
        )
        problems.append(f"{what}: {scroll} px wide in {client} ({wide})")
    problems += [f"{what}: {v}" for v in await axe_violations(page)]


async def _visit(web: Any, hash_: str, heading: str, what: str, problems: list[str]) -> None:
    await web.page.goto(f"{web.base}/console/{hash_}")
    await expect(web.page.get_by_role("heading", name=heading, exact=False).first).to_be_visible()
    await web.page.wait_for_load_state("networkidle")
    await _check(web, what, problems)


async def _tokens_whole(page: Any) -> list[str]:
    """Tokens of the long values that a line break cut in two."""
    found = await page.evaluate(
        """[...document.querySelectorAll('.long-value .tok, code.tok')]
            .filter((t) => t.getClientRects().length > 1).map((t) => t.textContent)"""
    )
    return list(found)


async def test_every_page_fits_a_phone_and_passes_axe(
    open_session: Any,
    shared: Shared,
    shared_redis: dict[str, Any],
    shared_mysql: dict[str, Any],
    service: Api,
) -> None:
    problems: list[str] = []
    web = await open_session(*PHONE)
    page = web.page
    await page.goto(web.base + "/console/")
    await expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    await _check(web, "login", problems)
    # The scanner works on this page (its CSP and all): an unlabelled field is found.
    probe = "document.body.appendChild(Object.assign(document.createElement('input'), {id: 'probe'}))"
    await page.evaluate(probe)
    assert any(v.startswith("label:") for v in await axe_violations(page))
    await page.evaluate("document.getElementById('probe').remove()")
    await web.login(shared.username, shared.password)
    await _check(web, "instances", problems)
    # The header keeps "Log out" on the screen.
    box = await page.get_by_role("button", name="Log out").bounding_box()
    assert box is not None
    assert box["x"] + box["width"] <= PHONE[0], box
    for hash_, heading, what in (
        ("#/new", "New instance", "new instance"),
        ("#/backups", "All backups", "all backups"),
        ("#/webhooks", "Webhooks", "webhooks"),
        ("#/account", "Account", "account"),
    ):
        await _visit(web, hash_, heading, what, problems)
    for inst in (shared_redis, shared_mysql):
        await _visit(web, f"#/i/{inst['id']}", inst["name"], f"{inst['engine']} instance", problems)
        assert await _tokens_whole(page) == [], inst["engine"]
        # The password revealed: its long value stays in its box too.
        await page.get_by_role("button", name="Reveal").click()
        await _check(web, f"{inst['engine']} instance, password shown", problems)
        assert await _tokens_whole(page) == []
        await page.get_by_role("button", name="Hide").click()
        # Dialogs, open: each is checked as part of the page.
        for button, title in (("Stop…", "Stop"), ("Rotate password…", "Rotate")):
            await page.get_by_role("button", name=button).click()
            await expect(page.get_by_role("dialog")).to_contain_text(title)
            await _check(web, f"{inst['engine']} {button} dialog", problems)
            await page.get_by_role("button", name="Cancel").click()
            await expect(page.get_by_role("dialog")).to_have_count(0)
    # A restore dialog needs a backup: one of the Redis, taken through the API.
    status, backup = await service.call(
        "POST", f"/instances/{shared_redis['id']}/backups?wait=120", shared.token
    )
    assert status == 201, backup
    await _visit(web, f"#/i/{shared_redis['id']}", shared_redis["name"], "redis with a backup", problems)
    row = page.locator(f"table.backups tr[data-id='{backup['id']}']")
    await row.get_by_role("button", name="Restore…").click()
    await page.get_by_label("In place, over").check()
    await _check(web, "restore dialog", problems)
    await page.get_by_role("button", name="Cancel").click()
    await _visit(web, "#/backups", "All backups", "all backups with one", problems)
    assert web.changes() == [], web.changes()  # looking around changes nothing

    admin = await open_session(*PHONE)
    await admin.login("admin", ADMIN_PASSWORD)
    for hash_, heading, what in (
        ("#/admin/users", "Users", "admin users"),
        ("#/admin/hosts", "Hosts", "admin hosts"),
        ("#/admin/rules", "Alert rules", "admin rules"),
        ("#/admin/alerts", "All alerts", "admin alerts"),
        ("#/", "Instances", "admin instances"),
    ):
        await _visit(admin, hash_, heading, what, problems)
    await admin.page.goto(f"{admin.base}/console/#/admin/rules")
    await admin.page.get_by_role("button", name="Edit InstanceDown").click()
    await _check(admin, "rule dialog", problems)

    for width in (360, 1440):
        other = await open_session(width, 900)
        await other.login(shared.username, shared.password)
        await _check(other, f"instances at {width}", problems)
        await _visit(other, f"#/i/{shared_mysql['id']}", shared_mysql["name"], f"mysql at {width}", problems)
        assert await _tokens_whole(other.page) == []
    assert problems == []
    assert web.errors == []
    assert admin.errors == []
