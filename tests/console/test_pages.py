"""The console's pages against the real service: the instance list's search, filters and
sort; a MySQL change that restarts the server asks first (a live one does not) and
MySQL's rotation explains its alternative; extra credentials (the password shown once,
removal asks first), a plan change (asks first; the plan's settings become read-only, in
human units), the activity feed, metrics over a range with the maxmemory line; the account
page (quota, a named token shown once and revoked, the user's own password); webhooks
(add, a test delivery and its attempts, removal asks first); admin rule editing and the
hosts reload."""

from __future__ import annotations

import asyncio
import os
import re
import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest
import redis
from aiohttp import web as aioweb
from playwright.async_api import expect

from service.monitoring.egress import EgressPolicy
from tests.console.conftest import Session, Shared, asks_first
from tests.e2e.service_process import free_port
from tests.helpers import ADMIN_PASSWORD, ROOT, Api, wait_until

SLOW_MS = 120_000
SCREENSHOT = ROOT / "docs" / "console.png"
MIB = 1024 * 1024


async def _open(web: Session, inst: dict[str, Any]) -> None:
    await web.page.goto(f"{web.base}/console/#/i/{inst['id']}")
    await expect(web.page.locator("#inst-title")).to_have_text(inst["name"])


async def test_the_list_searches_filters_and_sorts(
    open_session: Any, shared: Shared, shared_redis: dict[str, Any], shared_mysql: dict[str, Any]
) -> None:
    web = await open_session()
    page = web.page
    await web.login(shared.username, shared.password)
    redis_row = page.locator(f"tr[data-id='{shared_redis['id']}']")
    mysql_row = page.locator(f"tr[data-id='{shared_mysql['id']}']")
    await expect(redis_row).to_have_count(1)
    await expect(mysql_row).to_have_count(1)
    await page.get_by_label("Search by name").fill("shared-ca")
    await expect(redis_row).to_have_count(1)
    await expect(mysql_row).to_have_count(0)
    await page.get_by_label("Search by name").fill("")
    await page.get_by_label("Engine").select_option("mysql")
    await expect(mysql_row).to_have_count(1)
    await expect(redis_row).to_have_count(0)
    await page.get_by_label("Engine").select_option("")
    await page.get_by_label("Status").select_option("stopped")
    await expect(page.locator("table.instances tbody tr")).to_have_count(0)
    await expect(page.locator("#list-count")).to_contain_text("0 of")
    await page.get_by_label("Status").select_option("")
    await page.get_by_label("Plan", exact=True).select_option("-")  # custom settings
    await expect(redis_row).to_have_count(1)
    await page.get_by_label("Plan", exact=True).select_option("")
    await page.get_by_label("Sort by").select_option("name")
    names = await page.locator("table.instances tbody tr td:first-child").all_inner_texts()
    assert names == sorted(names), names
    await page.get_by_label("Sort by").select_option("memory")
    first = page.locator("table.instances tbody tr").first
    await expect(first).to_have_attribute("data-id", shared_mysql["id"])  # 192 MB before 48 MB
    assert web.changes() == []
    assert web.errors == []


async def test_mysql_warns_before_a_restart_and_explains_its_rotation(
    open_session: Any, shared: Shared, shared_mysql: dict[str, Any], service: Api
) -> None:
    web = await open_session()
    page = web.page
    await web.login(shared.username, shared.password)
    await _open(web, shared_mysql)
    # Sizes in human units.
    await expect(page.locator("#inst-meta")).to_contain_text("192 MiB")
    # Switching the binary log on restarts MariaDB: the console says so before sending.
    await page.get_by_label("Binlog Format", exact=True).fill("ROW")
    await page.get_by_role("button", name="Apply settings").click()
    dialog = page.get_by_role("dialog")
    await expect(dialog).to_contain_text("restarts")
    await expect(dialog).to_contain_text("Binlog Format")
    await expect(dialog.get_by_role("button", name="Apply and restart")).to_be_visible()
    assert web.changes() == []
    await dialog.get_by_role("button", name="Cancel").click()
    await expect(dialog).to_have_count(0)
    assert web.changes() == []
    # A live change asks nothing, and the answer says it did not restart.
    await page.get_by_label("Binlog Format", exact=True).fill("")
    await page.get_by_label("Max Connections", exact=True).fill("120")
    async with page.expect_request(lambda r: r.method == "PATCH"):
        await page.get_by_role("button", name="Apply settings").click()
    await expect(page.locator("#settings-result")).to_have_text("Applied live: no restart.", timeout=SLOW_MS)
    status, inst = await service.call("GET", f"/instances/{shared_mysql['id']}", shared.token)
    assert (status, inst["settings"]["max_connections"], inst["settings"]["binlog_format"]) == (
        200,
        120,
        None,
    )
    # MariaDB has no dual passwords: the dialog says so and offers the alternative.
    before = len(web.changes())
    await page.get_by_role("button", name="Rotate password…").click()
    await expect(dialog).to_contain_text("stops working at once")
    await expect(dialog).to_contain_text("add an extra credential first")
    await expect(dialog.get_by_label(re.compile("Keep the old password"))).to_have_count(0)
    await dialog.get_by_role("button", name="Cancel").click()
    assert web.changes()[before:] == []
    assert web.errors == []


def _ping(conn: dict[str, Any], username: str, password: str) -> bool:
    with redis.Redis(
        host=conn["host"], port=int(conn["port"]), username=username, password=password, socket_timeout=5
    ) as r:
        try:
            return bool(r.ping())
        except redis.AuthenticationError:
            return False


async def test_credentials_plan_change_activity_and_metrics(
    open_session: Any, make_login: Any, service: Api, db: asyncpg.Pool
) -> None:
    username, password = await make_login("pages")
    token = await service.login(username, password)
    status, inst = await service.call(
        "POST", "/instances?wait=300", token, json={"engine": "redis", "settings": {"maxmemory": "16mb"}}
    )
    assert status == 201, inst
    iid = inst["id"]
    web = await open_session()
    page = web.page
    await web.login(username, password)
    await _open(web, inst)

    # An extra credential: its password shown once, working; the list never shows one.
    await page.get_by_label("Name", exact=True).fill("reporting")
    await page.get_by_role("button", name="Add credential").click()
    dialog = page.get_by_role("dialog")
    await expect(dialog).to_contain_text("shown only this once", timeout=SLOW_MS)
    made = (await dialog.locator("#cred-password").inner_text()).strip()
    user = (await dialog.locator("code.tok").first.inner_text()).strip()
    assert await asyncio.to_thread(_ping, inst["connection"], user, made)
    await dialog.get_by_role("button", name="Done").click()
    row = page.locator("table.credentials tbody tr", has_text="reporting")
    await expect(row.locator(".status")).to_have_text("active")
    assert made not in await page.locator("main").inner_text()
    await asks_first(
        web,
        row.get_by_role("button", name="Remove…"),
        "Remove credential",
        "DELETE",
        f"/instances/{iid}/credentials/reporting",
    )
    await expect(row).to_have_count(0, timeout=SLOW_MS)
    assert not await asyncio.to_thread(_ping, inst["connection"], user, made)

    # A plan change asks first, then the plan's settings are shown read-only, in human units.
    await page.get_by_label("Move to").select_option("small")
    opener = page.locator("form.plan-change").get_by_role("button", name="Change plan")
    await asks_first(web, opener, "Change plan", "PATCH", f"/instances/{iid}")
    await expect(page.locator("#plan-title")).to_contain_text("Plan: small", timeout=SLOW_MS)
    await expect(page.get_by_label("Maxmemory", exact=True)).to_have_count(0)
    await expect(page.locator("dd[data-setting='maxmemory']")).to_have_text("128 MiB")
    await expect(page.get_by_label("Maxclients", exact=True)).to_have_attribute("max", "1000")
    status, inst = await service.call("GET", f"/instances/{iid}", token)
    assert (inst["plan"], inst["settings"]["maxmemory"]) == ("small", 128 * MIB)

    # The activity feed: what was asked and how it went.
    feed = page.locator("#activity")
    await expect(feed).to_contain_text("Credential added: succeeded", timeout=SLOW_MS)
    await expect(feed).to_contain_text("Credential removed: succeeded", timeout=SLOW_MS)
    await expect(feed).to_contain_text("Settings change: succeeded", timeout=SLOW_MS)

    # Metrics: two collection rounds' worth of samples (collection is off here), then 6 h.
    from service.db import samples as samples_repo

    now = datetime.now(UTC)
    for i in range(12):  # every 5 min over the last hour, the newest 2 min ago
        sample = samples_repo.Sample(
            instance_id=iid,
            container_status="running",
            up=True,
            memory_bytes=(14 + i % 3) * MIB,
            memory_limit_bytes=inst["memory_mb"] * MIB,
            cpu_percent=0.5 + (i % 4) * 0.7,
            engine={
                "used_memory": (1 + i * 4 // 11) * MIB,
                "maxmemory": 128 * MIB,
                "connections": 2 + i % 3,
                "maxclients": 1000,
            },
            disk_bytes=(40 + i) * 1024,
        )
        await samples_repo.insert_many(db, [sample], now - timedelta(seconds=120 + (11 - i) * 300))
    async with page.expect_request(lambda r: "metrics/history?range=6h" in r.url):
        await page.get_by_role("button", name="6h").click()
    memory = page.locator("figure.chart", has_text="Memory").locator(".chart-last")
    await expect(memory).to_contain_text("maxmemory 128 MiB")
    await expect(memory).to_contain_text(re.compile(r"used_memory [\d.]+ MiB"))
    await expect(page.locator("figure.chart", has_text="Connections").locator(".chart-last")).to_contain_text(
        "limit 1000"
    )
    await expect(page.get_by_role("button", name="6h")).to_have_attribute("aria-pressed", "true")
    if os.environ.get("DBVEND_CONSOLE_SCREENSHOT"):  # docs/console.png (the samples are these)
        await page.get_by_role("button", name="1h").click()
        await expect(memory).to_contain_text("maxmemory 128 MiB")
        await page.set_viewport_size({"width": 1440, "height": 900})
        await page.screenshot(path=str(SCREENSHOT), full_page=True)
    status, _ = await service.call("DELETE", f"/instances/{iid}", token)
    assert status in (202, 204)
    assert web.errors == []


async def test_account_quota_tokens_and_password(open_session: Any, make_login: Any, service: Api) -> None:
    username, password = await make_login("acct")
    web = await open_session()
    page = web.page
    await web.login(username, password)
    await page.get_by_role("link", name=re.compile(username)).click()
    await expect(page.get_by_role("heading", name=f"Account: {username}")).to_be_visible()
    await expect(page.locator(".usage", has_text="Instances")).to_contain_text("0 of")
    await expect(page.locator(".usage", has_text="Memory")).to_contain_text(re.compile(r"of [\d.]+ [MG]iB"))

    await page.get_by_label("Name", exact=True).fill("ci")
    await page.get_by_role("button", name="Make token").click()
    dialog = page.get_by_role("dialog")
    await expect(dialog).to_contain_text("shown only this once")
    made = (await dialog.locator("#new-token").inner_text()).strip()
    status, me = await service.call("GET", "/me", made)
    assert (status, me["username"]) == (200, username)
    await dialog.get_by_role("button", name="Done").click()
    row = page.locator("table.tokens tbody tr", has_text="ci")
    await expect(row).to_have_count(1)
    assert made not in await page.locator("main").inner_text()
    status, listed = await service.call("GET", "/me/tokens", made)
    (ci,) = [t for t in listed["items"] if t["name"] == "ci"]
    await asks_first(
        web, row.get_by_role("button", name="Revoke…"), "Revoke token", "DELETE", f"/me/tokens/{ci['id']}"
    )
    await expect(row).to_have_count(0)
    status, _ = await service.call("GET", "/me", made)
    assert status == 401

    new_password = secrets.token_urlsafe(16)
    await page.get_by_label("Current password").fill(password)
    await page.get_by_label("New password (12 characters or more)").fill(new_password)
    await page.get_by_label("New password again").fill(new_password)
    await page.get_by_role("button", name="Change password").click()
    await expect(page.locator("p.ok")).to_contain_text("Password changed")
    assert await service.login(username, new_password)
    assert [e for e in web.errors if "401" not in e] == []


@pytest.fixture
async def loopback_receiver(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[tuple[str, list[Any]]]:
    """An HTTP receiver on 127.0.0.1 that the service may call (as DBVEND_WEBHOOK_ALLOW=
    127.0.0.0/8 would allow it, for this test only): (its URL, the bodies it got)."""
    original = EgressPolicy._allowed
    monkeypatch.setattr(EgressPolicy, "_allowed", lambda self, a: a.is_loopback or original(self, a))
    got: list[Any] = []

    async def keep(request: aioweb.Request) -> aioweb.Response:
        got.append(await request.json())
        return aioweb.Response(status=204)

    app = aioweb.Application()
    app.router.add_post("/hook", keep)
    runner = aioweb.AppRunner(app)
    await runner.setup()
    port = free_port()
    await aioweb.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield f"http://127.0.0.1:{port}/hook", got
    finally:
        await runner.cleanup()


async def test_webhooks_add_test_and_remove(
    open_session: Any, make_login: Any, loopback_receiver: tuple[str, list[Any]]
) -> None:
    url, got = loopback_receiver
    username, password = await make_login("hooks")
    web = await open_session()
    page = web.page
    await web.login(username, password)
    await page.get_by_role("link", name="Webhooks").click()
    await page.get_by_label("URL").fill(url)
    await page.get_by_role("button", name="Add webhook").click()
    dialog = page.get_by_role("dialog")
    await expect(dialog).to_contain_text("shown only this once")
    assert (await dialog.locator("#hook-secret").inner_text()).strip()
    await dialog.get_by_role("button", name="Done").click()
    hook = page.locator("article.hook")
    await expect(hook).to_have_count(1)
    hook_id = await hook.get_attribute("data-id")
    await hook.get_by_role("button", name="Send test").click()
    delivery = hook.locator("table.deliveries tbody tr").first
    await expect(delivery.locator(".status")).to_have_text("delivered", timeout=30_000)
    await expect(delivery).to_contain_text("1 of 1")
    await expect(delivery).to_contain_text("HTTP 204")

    async def received() -> bool:
        return len(got) == 1

    assert await wait_until(received, 10)
    await asks_first(
        web, hook.get_by_role("button", name="Remove…"), "Remove webhook", "DELETE", f"/webhooks/{hook_id}"
    )
    await expect(hook).to_have_count(0)
    await expect(page.get_by_text("No webhooks yet.")).to_be_visible()
    assert web.errors == []


async def test_admin_edits_a_rule_and_reloads_the_hosts(
    open_session: Any, service: Api, admin_token: str
) -> None:
    status, rules = await service.call("GET", "/rules", admin_token)
    assert status == 200, rules
    rule = next(r for r in rules["items"] if r["threshold"] is not None)
    web = await open_session()
    page = web.page
    await web.login("admin", ADMIN_PASSWORD)
    await page.get_by_role("link", name="Rules").click()
    try:
        await page.get_by_role("button", name=f"Edit {rule['name']}").click()
        dialog = page.get_by_role("dialog")
        await dialog.get_by_label("Threshold").fill(str(rule["threshold"] + 1))
        await dialog.get_by_label(re.compile("^For")).fill("7m")
        severity = "info" if rule["severity"] != "info" else "warning"
        await dialog.get_by_label("Severity").select_option(severity)
        await dialog.get_by_role("button", name="Save rule").click()
        await expect(dialog).to_have_count(0)
        row = page.locator(f"tr[data-id='{rule['name']}']")
        await expect(row.locator(".for")).to_have_text("7 min")
        await expect(row.locator(".severity")).to_have_text(severity)
        status, saved = await service.call("GET", f"/rules/{rule['name']}", admin_token)
        assert (saved["threshold"], saved["for"], saved["severity"]) == (rule["threshold"] + 1, 420, severity)
    finally:
        body = {k: rule[k] for k in ("threshold", "for", "severity", "enabled")}
        status, _ = await service.call("PATCH", f"/rules/{rule['name']}", admin_token, json=body)
        assert status == 200

    await page.get_by_role("link", name="Hosts").click()
    async with page.expect_request(lambda r: r.method == "POST" and r.url.endswith("/hosts/reload")):
        await page.get_by_role("button", name="Reload inventory").click()
    await expect(page.get_by_role("status")).to_have_text("inventory reloaded", timeout=SLOW_MS)
    await expect(page.locator("table.hosts tbody tr")).not_to_have_count(0)
    assert web.errors == []


async def test_a_tls_instance_shows_its_mode_offers_the_ca_and_rotates_its_certificate(
    open_session: Any, shared: Shared, service: Api
) -> None:
    """The connection card of a `required` Redis: the mode, the name to verify, a CA download
    (public, the bundle the API serves) and a Rotate certificate action that succeeds."""
    status, inst = await service.call(
        "POST",
        "/instances?wait=300",
        shared.token,
        json={"engine": "redis", "name": "shared-tls", "settings": {"maxmemory": "16mb", "tls": "required"}},
    )
    assert status == 201, inst
    web = await open_session()
    page = web.page
    await web.login(shared.username, shared.password)
    await _open(web, inst)
    await expect(page.locator("#conn-tls")).to_have_text("required")
    await expect(page.locator("#conn-uri")).to_contain_text("rediss://")
    tls = inst["connection"]["tls"]
    await expect(page.get_by_text(tls["server_name"], exact=True)).not_to_have_count(0)
    link = page.locator("#conn-ca")
    await expect(link).to_have_attribute("href", "/api/v1/tls/ca.pem")
    async with page.expect_download() as download_info:
        await link.click()
    download = await download_info.value
    assert download.suggested_filename == "dbvend-ca.pem"
    status, bundle = await service.call("GET", "/tls/ca.pem")
    assert status == 200
    path = await download.path()
    assert path is not None
    assert path.read_text() == bundle
    assert "BEGIN CERTIFICATE" in bundle
    assert "PRIVATE KEY" not in bundle

    async with page.expect_request(
        lambda r: r.method == "POST" and r.url.endswith(f"/instances/{inst['id']}/rotate-certificate")
    ):
        await page.get_by_role("button", name="Rotate certificate").click()
    await expect(page.get_by_role("status")).to_have_text(
        f"Certificate rotation of {inst['name']}: done", timeout=SLOW_MS
    )
    status, _ = await service.call("DELETE", f"/instances/{inst['id']}", shared.token)
    assert status in (202, 204)
    assert web.errors == []
