"""30 bad logins from one address, 10 for each of three names: every one is an event (the
15 the login brake refuses with 429 too: each name gets 5 guesses from one address),
AuthFailureBurst fires for that address and reaches an admin's webhook; the password
tried is nowhere in the store."""

from __future__ import annotations

import json

from tests.helpers import wait_until
from tests.monitoring.conftest import Monitored, Receiver


async def test_thirty_bad_logins_fire_auth_failure_burst(
    monitored: Monitored, receiver: Receiver, clear_login_throttle: None
) -> None:
    status, hook = await monitored.api.call(
        "POST",
        "/webhooks",
        monitored.admin_token,
        json={"url": receiver.url("admin-auth"), "send_resolved": True},
    )
    assert status == 201, hook
    password = "guess-" + "x" * 12
    statuses = []
    for i in range(30):
        status, _ = await monitored.api.call(
            "POST", "/auth/login", json={"username": f"mallory{i % 3}", "password": password}
        )
        statuses.append(status)
    assert statuses.count(401) == 15
    assert statuses.count(429) == 15

    async def all_recorded() -> bool:
        found = [e for e in await monitored.events(kind="auth_failure") if e["subject"] == "127.0.0.1"]
        return sum(1 for e in found if (e["details"]["username"] or "").startswith("mallory")) >= 30

    assert await wait_until(all_recorded, 15)
    events = [
        e for e in await monitored.events(kind="auth_failure") if e["details"]["username"] == "mallory0"
    ]
    assert {e["details"]["reason"] for e in events} == {
        "wrong username or password",
        "too many failed logins (throttled)",
    }
    assert events[0]["details"]["client"] == "127.0.0.1"
    assert password not in json.dumps(await monitored.events())

    async def firing() -> bool:
        return bool(await monitored.alerts(rule="AuthFailureBurst", status="firing"))

    assert await wait_until(firing, 15)
    alert = (await monitored.alerts(rule="AuthFailureBurst", status="firing"))[0]
    assert alert["labels"]["client"] == "127.0.0.1"
    assert alert["value"] >= 20

    async def notified() -> bool:
        return any(
            a["labels"]["alertname"] == "AuthFailureBurst"
            for p in receiver.received("admin-auth")
            for a in p["alerts"]
        )

    assert await wait_until(notified, 15)
    payload = next(
        p for p in receiver.received("admin-auth") if p["groupLabels"]["alertname"] == "AuthFailureBurst"
    )
    assert payload["version"] == "4"
    assert payload["status"] == "firing"
    assert payload["alerts"][0]["status"] == "firing"
    assert payload["alerts"][0]["fingerprint"] == alert["fingerprint"]
    assert payload["alerts"][0]["endsAt"] == "0001-01-01T00:00:00Z"
    assert payload["receiver"] == f"webhook-{hook['id']}"
    assert payload["groupKey"]
    assert payload["commonLabels"]["client"] == "127.0.0.1"
    status, _ = await monitored.api.call("DELETE", f"/webhooks/{hook['id']}", monitored.admin_token)
    assert status == 204
