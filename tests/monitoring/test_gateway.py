"""The gateway collector: every request counted by route template, method and status, and
the requests worth an event recorded in PostgreSQL without any secret."""

from __future__ import annotations

import json

from service.monitoring.gateway import GATEWAY
from tests.helpers import wait_until
from tests.monitoring.conftest import Monitored


async def metrics_text(m: Monitored) -> str:
    async with m.api.client.get("/metrics") as resp:  # no token: /metrics is public
        assert resp.status == 200
        assert resp.headers["Content-Type"].startswith("text/plain")
        return await resp.text()


def counter(text: str, route: str, method: str, status: str) -> float:
    wanted = f'dbvend_http_requests_total{{method="{method}",route="{route}",status="{status}"}}'
    for line in text.splitlines():
        if line.startswith(wanted):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


async def test_requests_are_counted_by_route_template(monitored: Monitored) -> None:
    before = counter(await metrics_text(monitored), "/api/v1/instances/{id}", "GET", "404")
    for name in ("i-nothere1", "i-nothere2", "i-nothere3"):
        status, _ = await monitored.api.call("GET", f"/instances/{name}", monitored.admin_token)
        assert status == 404
    async with monitored.api.client.get("/no/such/route") as resp:
        assert resp.status == 404
    text = await metrics_text(monitored)
    assert counter(text, "/api/v1/instances/{id}", "GET", "404") == before + 3
    assert counter(text, "unmatched", "GET", "404") >= 1
    assert (
        'dbvend_http_request_duration_seconds_bucket{le="0.005",method="GET",route="/api/v1/instances/{id}"}'
        in text
    )
    # No instance id leaks into a label: templates only.
    assert "i-nothere1" not in text


def other_methods(text: str) -> float:
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("dbvend_http_requests_total{") and 'method="other"' in line
    )


async def test_unusual_methods_share_one_label(monitored: Monitored) -> None:
    """Methods outside HTTP's usual ones (WebDAV's, which the parser lets through) share one label."""
    before = other_methods(await metrics_text(monitored))
    for method in ("PROPFIND", "MKCOL", "LOCK", "UNLOCK", "COPY"):
        async with monitored.api.client.request(method, "/api/v1/instances") as resp:
            assert resp.status >= 400
    text = await metrics_text(monitored)
    assert "PROPFIND" not in text
    assert other_methods(text) >= before + 5


async def test_server_errors_are_events_with_type_and_request_id(monitored: Monitored) -> None:
    async with monitored.api.client.get("/test/boom", headers={"X-Request-Id": "req-boom-1"}) as resp:
        assert resp.status == 500
        body = await resp.json()
    assert body["error"]["request_id"] == "req-boom-1"

    async def recorded() -> bool:
        return any(
            e["details"].get("request_id") == "req-boom-1"
            for e in await monitored.events(kind="server_error")
        )

    assert await wait_until(recorded, 10)
    event = next(
        e for e in await monitored.events(kind="server_error") if e["details"]["request_id"] == "req-boom-1"
    )
    assert event["details"]["error_type"] == "RuntimeError"
    assert event["details"]["route"] == "/test/boom"
    assert event["severity"] == "critical"
    assert "Traceback" not in json.dumps(event)  # the traceback stays in the server log


async def test_rejected_validations_name_fields_but_keep_no_values(monitored: Monitored) -> None:
    secret = "hunter2-not-stored"
    status, _body = await monitored.api.call(
        "POST", "/users", monitored.admin_token, json={"username": "Bad Name!", "password": secret[:5]}
    )
    assert status == 422
    status, _ = await monitored.api.call(
        "POST",
        "/instances",
        monitored.admin_token,
        json={"engine": "redis", "settings": {"maxmemory": "1kb", "password": secret}},
    )
    assert status == 422

    async def recorded() -> list[dict[str, object]]:
        found = await monitored.events(kind="validation_rejected")
        return [e for e in found if e["details"]["route"] == "/api/v1/instances"]

    async def any_recorded() -> bool:
        return bool(await recorded())

    assert await wait_until(any_recorded, 10)
    event = (await recorded())[0]
    assert set(event["details"]["fields"]) == {"settings.maxmemory", "settings.password"}
    everything = json.dumps(await monitored.events())
    assert secret not in everything
    assert secret[:5] not in everything


async def test_slow_requests_are_events_unless_they_asked_to_wait(monitored: Monitored) -> None:
    async with monitored.api.client.get("/test/slow?seconds=1.3") as resp:
        assert resp.status == 200
    async with monitored.api.client.get("/test/slow?seconds=1.3&wait=5") as resp:
        assert resp.status == 200
    await monitored.app[GATEWAY].recorder.flush()  # what both requests recorded, written now
    slow = [e for e in await monitored.events(kind="slow_request") if e["details"]["route"] == "/test/slow"]
    assert len(slow) == 1
    assert slow[0]["details"]["seconds"] >= 1.3
    assert slow[0]["details"]["budget"] == 1.0


async def test_a_bad_token_is_an_auth_failure(monitored: Monitored) -> None:
    status, _ = await monitored.api.call("GET", "/me", "dbv_certainly-not-a-token")
    assert status == 401

    async def recorded() -> bool:
        return any(
            e["details"]["reason"] == "invalid or expired token"
            for e in await monitored.events(kind="auth_failure")
        )

    assert await wait_until(recorded, 10)
    assert "certainly-not-a-token" not in json.dumps(await monitored.events(kind="auth_failure"))


async def test_api_error_rate_alert(monitored: Monitored) -> None:
    """ApiErrorRateHigh: more than 5 % of the requests over 5 minutes answered 5xx, with at
    least 20 requests. 25 failing requests are more than enough whatever else ran."""
    for _ in range(25):
        async with monitored.api.client.get("/test/boom") as resp:
            assert resp.status == 500

    async def firing() -> bool:
        return bool(await monitored.alerts(rule="ApiErrorRateHigh", status="firing"))

    assert await wait_until(firing, 20)
    alert = (await monitored.alerts(rule="ApiErrorRateHigh", status="firing"))[0]
    assert alert["severity"] == "critical"
    assert alert["value"] > 0.05
    assert alert["instance_id"] is None
    # Users do not see alerts about the service as a whole.
    _, token = await monitored.user("plain")
    assert await monitored.alerts(token, rule="ApiErrorRateHigh") == []
