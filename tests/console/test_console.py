"""The web console end to end in chromium: log in, create a Redis and watch it turn running
without a reload (the event stream), reveal and copy the password, stop/start, back up and
download, delete with the typed name; tenancy; the 422 details by field; the headers."""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path
from typing import Any

from playwright.async_api import expect

from tests.helpers import ROOT, Api

SLOW_MS = 120_000  # a cold create, a backup through Ansible
SCREENSHOT = ROOT / "docs" / "console.png"


async def _status(page: Any, status: str) -> None:
    await expect(page.locator("#inst-status")).to_have_text(status, timeout=SLOW_MS)


async def test_redis_lifecycle_in_the_browser(
    open_session: Any, make_login: Any, service: Api, tmp_path: Path
) -> None:
    username, password = await make_login()
    web = await open_session()
    page = web.page
    await web.login(username, password)
    # Marks this document: a reload anywhere below would lose it.
    await page.evaluate("window.__sameDocument = true")

    await page.get_by_role("link", name="New instance").first.click()
    await page.get_by_label("redis").check()
    name = "web-" + os.urandom(3).hex()
    await page.get_by_label("Name", exact=True).fill(name)
    await page.get_by_label("Maxmemory", exact=True).fill("64mb")
    await page.get_by_role("button", name="Create").click()

    await expect(page.locator("#inst-title")).to_have_text(name)
    instance_id = page.url.rsplit("/", 1)[1]
    await _status(page, "running")
    assert await page.evaluate("window.__sameDocument === true"), "the page was reloaded"

    status, inst = await service.call(
        "GET", f"/instances/{instance_id}", await service.login(username, password)
    )
    assert status == 200, inst
    secret = inst["connection"]["password"]
    assert inst["settings"]["maxmemory"] == 64 * 1024 * 1024
    # Hidden until revealed: not in the page's text at all.
    assert secret not in await page.locator("main").inner_text()
    await page.get_by_role("button", name="Reveal").click()
    await expect(page.locator("#conn-password")).to_have_text(secret)
    await page.get_by_role("button", name="Copy password").click()
    await expect(page.get_by_role("status")).to_have_text("password copied")
    assert await page.evaluate("navigator.clipboard.readText()") == secret
    await page.get_by_role("button", name="Copy URI").click()
    assert await page.evaluate("navigator.clipboard.readText()") == inst["connection"]["uri"]
    await page.get_by_role("button", name="Hide").click()
    assert secret not in await page.locator("main").inner_text()

    # The list, opened afresh by its link, shows it running (again no reload).
    await page.get_by_role("link", name="Instances").first.click()
    row = page.locator(f"tr[data-id='{instance_id}']")
    await expect(row.locator(".status")).to_have_text("running")
    await row.get_by_role("link", name=name).click()

    if os.environ.get("DBVEND_CONSOLE_SCREENSHOT"):
        # A few collection rounds first (every 15 s here), so the charts have lines.
        memory = page.locator(".chart-last").first
        await expect(memory).not_to_have_text("no samples yet", timeout=90_000)
        await page.wait_for_timeout(35_000)
        await page.get_by_role("link", name="Instances").first.click()
        await row.get_by_role("link", name=name).click()
        await expect(page.locator(".chart-last").first).not_to_have_text("no samples yet")
        await page.screenshot(path=str(SCREENSHOT), full_page=True)

    await page.get_by_role("button", name="Stop", exact=True).click()
    await _status(page, "stopped")
    await page.get_by_role("button", name="Start", exact=True).click()
    await _status(page, "running")

    # A live settings change from the pre-filled form: only maxmemory is sent.
    await page.get_by_label("Maxmemory", exact=True).fill("96mb")
    await page.get_by_role("button", name="Apply settings").click()
    await expect(page.get_by_label("Maxmemory", exact=True)).to_have_value(
        str(96 * 1024 * 1024), timeout=SLOW_MS
    )

    await page.get_by_role("button", name="Rotate password").click()
    await expect(page.get_by_role("status")).to_have_text(
        f"Password rotation of {name}: done", timeout=SLOW_MS
    )
    status, inst = await service.call(
        "GET", f"/instances/{instance_id}", await service.login(username, password)
    )
    assert inst["connection"]["password"] != secret
    await page.get_by_role("button", name="Reveal").click()
    await expect(page.locator("#conn-password")).to_have_text(inst["connection"]["password"])
    await page.get_by_role("button", name="Hide").click()

    await page.get_by_role("button", name="Back up now").click()
    backup_row = page.locator("table.backups tbody tr").first
    await expect(backup_row.locator(".status")).to_have_text("completed", timeout=SLOW_MS)
    backup_id = await backup_row.get_attribute("data-id")
    async with page.expect_download() as info:
        await backup_row.get_by_role("button", name="Download").click()
    download = await info.value
    target = tmp_path / download.suggested_filename
    await download.save_as(target)
    data = target.read_bytes()
    status, backup = await service.call(
        "GET", f"/backups/{backup_id}", await service.login(username, password)
    )
    assert status == 200, backup
    assert data.startswith(b"REDIS"), data[:16]
    assert len(data) == backup["size_bytes"]
    assert hashlib.sha256(data).hexdigest() == backup["sha256"]
    assert download.suggested_filename == f"{name}-{backup_id}.rdb"
    await backup_row.get_by_role("button", name="Restore").click()
    await expect(page.get_by_role("status")).to_have_text(f"Restore of {backup_id}: done", timeout=SLOW_MS)

    await page.get_by_label("Every (hours)").fill("12")
    await page.get_by_label("Keep").fill("3")
    await page.get_by_role("button", name="Save schedule").click()
    await expect(page.get_by_role("heading", name="Schedule (every 12 h, keep 3)")).to_be_visible()

    delete = page.get_by_role("button", name="Delete instance")
    await expect(delete).to_be_disabled()
    await page.get_by_label(re.compile("to delete this instance")).fill(name[:-1])
    await expect(delete).to_be_disabled()
    await page.get_by_label(re.compile("to delete this instance")).fill(name)
    await delete.click()
    await expect(page.get_by_role("heading", name="Instances")).to_be_visible()
    # instance.deleted arrives over the stream and takes the row away.
    await expect(page.locator(f"tr[data-id='{instance_id}']")).to_have_count(0, timeout=SLOW_MS)
    assert await page.evaluate("window.__sameDocument === true"), "the page was reloaded"
    assert web.errors == []


async def test_a_second_user_sees_none_of_the_first_users_instances(
    open_session: Any, make_login: Any, service: Api
) -> None:
    first, first_password = await make_login("owner")
    token = await service.login(first, first_password)
    # Recorded, not deployed, is enough to be listed: no need to wait for the container.
    status, inst = await service.call("POST", "/instances", token, json={"engine": "redis"})
    assert status == 202, inst
    try:
        mine = await open_session()
        await mine.login(first, first_password)
        await expect(mine.page.locator(f"tr[data-id='{inst['id']}']")).to_have_count(1)

        other, other_password = await make_login("other")
        theirs = await open_session()
        # By keyboard only: type, Tab to the next field, Enter submits.
        await theirs.page.goto(theirs.base + "/console")
        await theirs.page.get_by_label("Username").focus()
        await theirs.page.keyboard.type(other)
        await theirs.page.keyboard.press("Tab")
        await theirs.page.keyboard.type(other_password)
        await theirs.page.keyboard.press("Enter")
        await expect(theirs.page.get_by_text("No instances yet.")).to_be_visible()
        await theirs.page.goto(f"{theirs.base}/console/#/i/{inst['id']}")
        await expect(theirs.page.get_by_text("No such instance.")).to_be_visible()
        assert mine.errors == []
        # The token lives in sessionStorage only (no cookie, nothing in localStorage) ...
        their_token = await theirs.page.evaluate("sessionStorage.getItem('dbvend.token')")
        assert their_token
        assert await theirs.page.evaluate("localStorage.length") == 0
        assert await theirs.context.cookies() == []
        # ... and logging out revokes it on the server.
        await theirs.page.get_by_role("button", name="Log out").click()
        await expect(theirs.page.get_by_role("heading", name="Log in")).to_be_visible()
        assert await theirs.page.evaluate("sessionStorage.getItem('dbvend.token')") is None
        status, _ = await service.call("GET", "/me", their_token)
        assert status == 401
        # The 404 of the direct link is logged by the browser as a failed resource: expected.
        assert [e for e in theirs.errors if "404" not in e] == []
    finally:
        await service.call("DELETE", f"/instances/{inst['id']}", token)


async def test_create_form_shows_the_api_422_next_to_the_field(open_session: Any, make_login: Any) -> None:
    username, password = await make_login()
    web = await open_session()
    page = web.page
    await web.login(username, password)
    await page.get_by_role("link", name="New instance").first.click()
    maxmemory = page.get_by_label("Maxmemory", exact=True)
    await maxmemory.fill("lots")
    await page.get_by_role("button", name="Create").click()
    error = page.locator("#new-maxmemory-error")
    await expect(error).to_be_visible()
    assert await maxmemory.get_attribute("aria-invalid") == "true"
    assert "new-maxmemory-error" in (await maxmemory.get_attribute("aria-describedby") or "")
    await page.get_by_label("Name", exact=True).fill("Not A Name")
    await maxmemory.fill("64mb")
    await page.get_by_role("button", name="Create").click()
    await expect(page.locator("#new-name-error")).to_be_visible()
    await expect(error).to_have_count(0)
    # The console's own 422s are logged by the browser as failed resources: expected.
    assert [e for e in web.errors if "422" not in e] == []


async def test_a_create_on_a_plan_offers_only_the_plans_settings(
    open_session: Any, make_login: Any, service: Api
) -> None:
    username, password = await make_login()
    web = await open_session()
    page = web.page
    await web.login(username, password)
    await page.get_by_role("link", name="New instance").first.click()
    await page.get_by_label("redis").check()
    await expect(page.get_by_label("Maxmemory", exact=True)).to_have_count(1)
    await page.get_by_label("Plan").select_option("small")
    # The plan fixes maxmemory: no field for it; maxclients is bounded by the plan.
    await expect(page.get_by_label("Maxmemory", exact=True)).to_have_count(0)
    maxclients = page.get_by_label("Maxclients", exact=True)
    await expect(maxclients).to_have_value("1000")
    await maxclients.fill("5000")
    await page.get_by_role("button", name="Create").click()
    await expect(page.locator("#new-maxclients-error")).to_contain_text("at most 1000")
    await maxclients.fill("500")
    await page.get_by_role("button", name="Create").click()
    await expect(page.locator("#inst-title")).to_be_visible(timeout=SLOW_MS)
    instance_id = page.url.rsplit("/", 1)[1]
    token = await service.login(username, password)
    status, inst = await service.call("GET", f"/instances/{instance_id}", token)
    assert status == 200, inst
    assert (inst["plan"], inst["settings"]["maxclients"]) == ("small", 500)
    await page.get_by_role("link", name="Instances").first.click()
    await expect(page.locator(f'tr[data-id="{instance_id}"] .plan')).to_have_text("small")
    status, _ = await service.call("DELETE", f"/instances/{instance_id}?wait=60", token)
    assert status in (202, 204)
    assert [e for e in web.errors if "422" not in e] == []


async def test_headers_of_every_console_file(service: Api) -> None:
    for path in ("/console", "/console/", "/console/assets/app.js", "/console/assets/app.css"):
        async with service.client.get(path) as resp:
            assert resp.status == 200, path
            csp = resp.headers["Content-Security-Policy"]
            assert "default-src 'self'" in csp
            assert "frame-ancestors 'none'" in csp
            assert "unsafe-inline" not in csp
            assert "unsafe-eval" not in csp
            assert resp.headers["X-Content-Type-Options"] == "nosniff"
            assert resp.headers["Referrer-Policy"] == "no-referrer"
            host = resp.url.host
            assert f"connect-src 'self' ws://{host}:{resp.url.port} wss://{host}:{resp.url.port};" in csp
    # A Host header that is no host name cannot add anything to the policy.
    async with service.client.get("/console/", headers={"Host": "x; script-src *"}) as resp:
        assert resp.status == 200
        assert "connect-src 'self'; " in resp.headers["Content-Security-Policy"]
        assert "*" not in resp.headers["Content-Security-Policy"]
    async with service.client.get("/console/assets/app.js") as resp:
        assert resp.content_type == "text/javascript"
        assert resp.headers["Cache-Control"] == "no-cache"
    for path in ("/console/assets/..%2fdist%2findex.html", "/console/assets/nope.js", "/console/index.html"):
        async with service.client.get(path) as resp:
            assert resp.status == 404, path


async def test_admin_pages(open_session: Any, service: Api) -> None:
    from tests.helpers import ADMIN_PASSWORD

    web = await open_session()
    page = web.page
    await web.login("admin", ADMIN_PASSWORD)
    await page.get_by_role("link", name="Users").click()
    await page.get_by_label("Username").fill("made-in-console")
    await page.get_by_label("Password").fill("short")
    await page.get_by_role("button", name="Create user").click()
    await expect(page.locator("#nu-password-error")).to_be_visible()
    await page.get_by_label("Password").fill("a-long-enough-password")
    await page.get_by_role("button", name="Create user").click()
    row = page.locator("tr", has_text="made-in-console")
    await expect(row).to_have_count(1)
    await row.get_by_role("button", name="Disable").click()
    await expect(row.get_by_role("button", name="Enable")).to_be_visible()
    await row.get_by_label("instances").fill("3")
    await row.get_by_role("button", name="Save quota").click()
    await expect(page.get_by_role("status")).to_have_text("quota of made-in-console saved")
    status, user = await service.call(
        "GET", "/users/made-in-console", await service.login("admin", ADMIN_PASSWORD)
    )
    assert status == 200, user
    assert user["disabled"] is True
    assert user["quota"]["instances"]["limit"] == 3

    await page.get_by_role("link", name="Hosts").click()
    await expect(page.get_by_role("heading", name="Hosts")).to_be_visible()
    await expect(page.locator("table tbody tr")).not_to_have_count(0)
    await page.get_by_role("link", name="Rules").click()
    await expect(page.get_by_role("heading", name="Alert rules")).to_be_visible()
    await expect(page.locator("table tbody tr")).not_to_have_count(0)
    await page.get_by_role("link", name="Alerts").click()
    await expect(page.get_by_role("heading", name="All alerts")).to_be_visible()
    assert [e for e in web.errors if "422" not in e] == []
