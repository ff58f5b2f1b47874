"""The web console end to end in chromium: log in, create a Redis and watch it turn running
without a reload (the event stream), reveal and copy the password; every destructive action
asks first and sends nothing before it is confirmed (stop, rotate with Redis's grace period,
restore into a new instance first, in place after the typed name, delete with the typed name
and a final backup); back up and download; tenancy; the 422 details by field; the headers."""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
from pathlib import Path
from typing import Any

import redis
from playwright.async_api import expect

from tests.console.conftest import asks_first
from tests.helpers import Api

SLOW_MS = 120_000  # a cold create, a backup through Ansible


def _redis(conn: dict[str, Any], password: str | None = None) -> redis.Redis:
    return redis.Redis(
        host=conn["host"],
        port=int(conn["port"]),
        username=conn["username"],
        password=password or conn["password"],
        socket_timeout=5,
    )


def _auth(conn: dict[str, Any], password: str) -> bool:
    with _redis(conn, password) as r:
        try:
            return bool(r.ping())
        except redis.AuthenticationError:
            return False


def _set(conn: dict[str, Any], key: str, value: str) -> None:
    with _redis(conn) as r:
        r.set(key, value)


def _keys(conn: dict[str, Any]) -> set[str]:
    with _redis(conn) as r:
        return {k.decode() for k in r.keys("*")}


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

    # Stop asks first, says what breaks, and sends nothing before it is confirmed.
    stop = page.get_by_role("button", name="Stop…")
    await asks_first(web, stop, "Stop instance", "POST", f"/instances/{instance_id}/stop")
    await _status(page, "stopped")
    # A stopped instance claims no health.
    await expect(page.locator("#inst-meta")).not_to_contain_text("health")
    await page.get_by_role("button", name="Start", exact=True).click()
    await _status(page, "running")

    # A live settings change from the pre-filled form (sizes in the API's units): only
    # maxmemory is sent, and the answer says it was applied without a restart.
    maxmemory = page.get_by_label("Maxmemory", exact=True)
    await expect(maxmemory).to_have_value("64mb")
    await maxmemory.fill("96mb")
    await page.get_by_role("button", name="Apply settings").click()
    await expect(page.get_by_role("dialog")).to_have_count(0)
    await expect(page.locator("#settings-result")).to_have_text("Applied live: no restart.", timeout=SLOW_MS)
    await expect(maxmemory).to_have_value("96mb")

    token = await service.login(username, password)
    conn = inst["connection"]
    # One key before the backup, one after it.
    await asyncio.to_thread(_set, conn, "before", "1")
    await page.get_by_role("button", name="Back up now").click()
    backup_row = page.locator("table.backups tbody tr").first
    await expect(backup_row.locator(".status")).to_have_text("completed", timeout=SLOW_MS)
    backup_id = await backup_row.get_attribute("data-id")
    await asyncio.to_thread(_set, conn, "after", "2")
    async with page.expect_download() as info:
        await backup_row.get_by_role("button", name="Download").click()
    download = await info.value
    target = tmp_path / download.suggested_filename
    await download.save_as(target)
    data = target.read_bytes()
    status, backup = await service.call("GET", f"/backups/{backup_id}", token)
    assert status == 200, backup
    assert data.startswith(b"REDIS"), data[:16]
    assert len(data) == backup["size_bytes"]
    assert hashlib.sha256(data).hexdigest() == backup["sha256"]
    assert download.suggested_filename == f"{name}-{backup_id}.rdb"

    # Restore offers a new instance first; the source is left as it is.
    await backup_row.get_by_role("button", name="Restore…").click()
    dialog = page.get_by_role("dialog")
    await expect(dialog.get_by_label("Into a new instance")).to_be_checked()
    await dialog.get_by_label("Name of the new instance").fill(f"{name}-copy")
    async with page.expect_request(lambda r: r.method == "POST" and r.url.endswith("/api/v1/instances")):
        await dialog.get_by_role("button", name="Create the new instance").click()
    assert not [c for c in web.changes() if c[1].startswith(f"/instances/{instance_id}/restore")]
    await expect(page.locator("#inst-title")).to_have_text(f"{name}-copy")
    clone_id = page.url.rsplit("/", 1)[1]
    assert clone_id != instance_id
    await _status(page, "running")
    status, clone = await service.call("GET", f"/instances/{clone_id}", token)
    assert status == 200, clone
    assert clone["settings"]["maxmemory"] == 96 * 1024 * 1024  # the source's settings
    assert await asyncio.to_thread(_keys, clone["connection"]) == {"before"}
    assert await asyncio.to_thread(_keys, conn) == {"before", "after"}
    status, source = await service.call("GET", f"/instances/{instance_id}", token)
    assert (source["status"], source["connection"]["password"]) == ("running", secret)
    status, _ = await service.call("DELETE", f"/instances/{clone_id}", token)
    assert status in (202, 204)

    # In place only after typing the instance's name; it says what is lost.
    await page.goto(f"{web.base}/console/#/i/{instance_id}")
    backup_row = page.locator(f"table.backups tr[data-id='{backup_id}']")
    await backup_row.get_by_role("button", name="Restore…").click()
    await dialog.get_by_label(re.compile("In place, over")).check()
    await expect(dialog).to_contain_text(f"Everything written to {name} since")
    replace = dialog.get_by_role("button", name="Replace the data")
    await expect(replace).to_be_disabled()
    await dialog.get_by_label(re.compile("to replace its data")).fill(name[:-1])
    await expect(replace).to_be_disabled()
    before = len(web.changes())
    await dialog.get_by_label(re.compile("to replace its data")).fill(name)
    assert web.changes()[before:] == []
    async with page.expect_request(lambda r: r.method == "POST" and r.url.endswith("/restore")):
        await replace.click()
    await expect(page.get_by_role("status")).to_have_text(f"Restore of {backup_id}: done", timeout=SLOW_MS)
    assert await asyncio.to_thread(_keys, conn) == {"before"}

    await page.get_by_label("Every (hours)").fill("12")
    await page.get_by_label("Keep").fill("3")
    await page.get_by_role("button", name="Save schedule").click()
    await expect(page.get_by_role("heading", name="Schedule (every 12 h, keep 3)")).to_be_visible()

    # Rotation with Redis's grace period: the old password keeps working meanwhile. (Last
    # before the delete: the old password's expiry, due after the grace period, holds the
    # instance's later operations back until then; the delete cancels it.)
    rotate = page.get_by_role("button", name="Rotate password…")
    await asks_first(web, rotate, "Rotate password", "POST", f"/instances/{instance_id}/rotate-password")
    await expect(page.get_by_role("status")).to_have_text(
        f"Password rotation of {name}: done", timeout=SLOW_MS
    )
    status, inst = await service.call("GET", f"/instances/{instance_id}", token)
    new = inst["connection"]
    assert new["password"] != secret
    assert await asyncio.to_thread(_auth, new, secret), "the old password stopped at once"
    assert await asyncio.to_thread(_auth, new, new["password"])
    await page.get_by_role("button", name="Reveal").click()
    await expect(page.locator("#conn-password")).to_have_text(new["password"])
    await page.get_by_role("button", name="Hide").click()

    # Delete: the typed name, and a final backup (kept) by default.
    await page.get_by_role("button", name="Delete instance…").click()
    dialog = page.get_by_role("dialog")
    delete = dialog.get_by_role("button", name="Delete instance", exact=True)
    await expect(dialog).to_contain_text("This cannot be undone")
    await expect(dialog.get_by_label(re.compile("Take a final backup first"))).to_be_checked()
    await expect(delete).to_be_disabled()
    await dialog.get_by_label(re.compile("to confirm")).fill(name[:-1])
    await expect(delete).to_be_disabled()
    before = len(web.changes())
    await dialog.get_by_label(re.compile("to confirm")).fill(name)
    assert web.changes()[before:] == []
    await delete.click()
    assert web.changes()[before:] == [("DELETE", f"/instances/{instance_id}?final_backup=true")]
    await expect(page.get_by_role("heading", name="Instances")).to_be_visible()
    # instance.deleted arrives over the stream and takes the row away.
    await expect(page.locator(f"tr[data-id='{instance_id}']")).to_have_count(0, timeout=SLOW_MS)
    assert await page.evaluate("window.__sameDocument === true"), "the page was reloaded"

    # Its backups stay, listed with the instance marked deleted: the final one among them.
    await page.get_by_role("link", name="Backups").first.click()
    # (The schedule set above may have added one of its own meanwhile.)
    rows = page.locator("table.all-backups tbody tr")
    taken = page.locator(f"table.all-backups tr[data-id='{backup_id}']")
    final = rows.filter(has_text="(final)")
    await expect(final).to_have_count(1, timeout=SLOW_MS)
    await expect(taken).to_have_count(1)
    await expect(rows.locator(".badge.deleted")).to_have_count(await rows.count())
    await expect(taken.locator(".badge.deleted")).to_have_text("deleted")
    # The one taken by hand goes (it asks first); the final one becomes a new instance.
    await asks_first(
        web, taken.get_by_role("button", name="Delete…"), "Delete backup", "DELETE", f"/backups/{backup_id}"
    )
    await expect(taken).to_have_count(0)
    final_id = await final.get_attribute("data-id")
    await final.get_by_role("button", name="Restore into new…").click()
    dialog = page.get_by_role("dialog")
    await expect(dialog.get_by_label(re.compile("In place"))).to_have_count(0)  # nothing to restore over
    await dialog.get_by_label("Name of the new instance").fill(f"{name}-back")
    await dialog.get_by_role("button", name="Create the new instance").click()
    await expect(page.locator("#inst-title")).to_have_text(f"{name}-back")
    await _status(page, "running")
    revived_id = page.url.rsplit("/", 1)[1]
    status, revived = await service.call("GET", f"/instances/{revived_id}", token)
    assert await asyncio.to_thread(_keys, revived["connection"]) == {"before"}
    assert final_id
    status, _ = await service.call("DELETE", f"/instances/{revived_id}", token)
    assert status in (202, 204)
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
