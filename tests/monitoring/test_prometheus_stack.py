"""/metrics against the real Prometheus tools (Debian packages): promtool accepts the
exposition, a Prometheus started here scrapes the service (target health "up"), and an
Alertmanager started by the package fixture receives the alerts dbvend pushes."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from pathlib import Path

import aiohttp

from tests.e2e.service_process import free_port
from tests.helpers import wait_until
from tests.monitoring.conftest import Monitored


async def scrape(m: Monitored) -> str:
    async with m.api.client.get("/metrics") as resp:
        assert resp.status == 200
        return await resp.text()


async def test_promtool_accepts_the_exposition(monitored: Monitored) -> None:
    await monitored.api.call("GET", "/me", monitored.admin_token)
    text = await scrape(monitored)
    for family in (
        "dbvend_http_requests_total",
        "dbvend_http_request_duration_seconds_bucket",
        "dbvend_instances",
        "dbvend_operations",
        "dbvend_alerts_firing",
        "dbvend_collect_round_duration_seconds_bucket",
    ):
        assert family in text, family
    promtool = shutil.which("promtool")
    assert promtool, "promtool is missing (Debian package prometheus; scripts/ensure-monitoring-tools.sh)"
    checked = await asyncio.to_thread(
        subprocess.run,
        [promtool, "check", "metrics"],
        input=text,
        capture_output=True,
        text=True,
        check=False,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


async def test_a_real_prometheus_scrapes_the_service(monitored: Monitored, tools_dir: Path) -> None:
    binary = shutil.which("prometheus")
    assert binary, "prometheus is missing (Debian package prometheus; scripts/ensure-monitoring-tools.sh)"
    port = free_port()
    config = tools_dir / "prometheus.yml"
    config.write_text(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
        "scrape_configs:\n  - job_name: dbvend\n    metrics_path: /metrics\n"
        f"    static_configs:\n      - targets: ['127.0.0.1:{monitored.port}']\n"
    )
    with (tools_dir / "prometheus.log").open("wb") as log:
        proc = subprocess.Popen(  # noqa: ASYNC220 - Popen returns at once; the wait is async below
            [
                binary,
                f"--config.file={config}",
                f"--storage.tsdb.path={tools_dir / 'prometheus-data'}",
                f"--web.listen-address=127.0.0.1:{port}",
            ],
            stdout=log,
            stderr=log,
        )
    base = f"http://127.0.0.1:{port}"
    try:

        async def up() -> bool:
            try:
                async with aiohttp.ClientSession() as s, s.get(f"{base}/api/v1/targets") as r:
                    targets = (await r.json())["data"]["activeTargets"]
            except (aiohttp.ClientError, ValueError, KeyError):
                return False
            return any(t["health"] == "up" and t["labels"]["job"] == "dbvend" for t in targets)

        assert await wait_until(up, 60), (tools_dir / "prometheus.log").read_text()[-2000:]

        async def queried() -> bool:
            query = "dbvend_http_requests_total"
            async with (
                aiohttp.ClientSession() as s,
                s.get(f"{base}/api/v1/query", params={"query": query}) as r,
            ):
                return bool((await r.json())["data"]["result"])

        assert await wait_until(queried, 30)
    finally:
        proc.terminate()
        await asyncio.to_thread(proc.wait, 30)


async def test_alertmanager_receives_pushed_alerts(monitored: Monitored, alertmanager: str) -> None:
    if not await monitored.alerts(rule="ApiErrorRateHigh", status="firing"):
        for _ in range(25):
            async with monitored.api.client.get("/test/boom") as resp:
                assert resp.status == 500

    async def received() -> bool:
        async with aiohttp.ClientSession() as s, s.get(f"{alertmanager}/api/v2/alerts") as r:
            alerts = await r.json()
        return any(a["labels"].get("alertname") == "ApiErrorRateHigh" for a in alerts)

    assert await wait_until(received, 60)
    async with aiohttp.ClientSession() as s, s.get(f"{alertmanager}/api/v2/alerts") as r:
        alerts = await r.json()
    pushed = next(a for a in alerts if a["labels"]["alertname"] == "ApiErrorRateHigh")
    assert pushed["labels"]["severity"] == "critical"
    assert pushed["status"]["state"] == "active"
    assert pushed["annotations"]["summary"]
    [ours] = await monitored.alerts(rule="ApiErrorRateHigh", status="firing")
    assert pushed["labels"]["fingerprint"] == ours["fingerprint"]
    rows = await monitored.db.fetch(
        "SELECT status FROM deliveries WHERE webhook_id IS NULL AND target = $1",
        f"{alertmanager}/api/v2/alerts",
    )
    assert rows
    assert all(r["status"] in ("delivered", "pending") for r in rows)
