"""Webhooks belong to their creator: http(s) URLs only, listed and deleted by the owner."""

from __future__ import annotations

from tests.monitoring.conftest import Monitored, Receiver


async def test_only_http_urls(monitored: Monitored) -> None:
    _, token = await monitored.user("hook")
    for url in (
        "ftp://example.org/x",
        "file:///etc/passwd",
        "javascript:alert(1)",
        "http://",
        "not a url",
        "gopher://h/",
    ):
        status, body = await monitored.api.call("POST", "/webhooks", token, json={"url": url})
        assert status == 422, url
        assert body["error"]["details"][0]["field"] == "url"
    status, body = await monitored.api.call(
        "POST", "/webhooks", token, json={"url": "http://127.0.0.1:9/x", "extra": 1}
    )
    assert status == 422


async def test_webhooks_are_owned(monitored: Monitored, receiver: Receiver) -> None:
    _, alice = await monitored.user("alice")
    _, bob = await monitored.user("bob")
    status, hook = await monitored.api.call(
        "POST",
        "/webhooks",
        alice,
        json={"url": receiver.url("alice?token=abc"), "send_resolved": False},
    )
    assert status == 201, hook
    assert hook["send_resolved"] is False
    assert hook["scope"] == "alerts of the owner's instances"
    status, listing = await monitored.api.call("GET", "/webhooks", alice)
    assert [h["id"] for h in listing["items"]] == [hook["id"]]
    status, listing = await monitored.api.call("GET", "/webhooks", bob)
    assert listing["items"] == []
    status, _ = await monitored.api.call("GET", f"/webhooks/{hook['id']}", bob)
    assert status == 404
    status, _ = await monitored.api.call("DELETE", f"/webhooks/{hook['id']}", bob)
    assert status == 404
    status, one = await monitored.api.call("GET", f"/webhooks/{hook['id']}", alice)
    assert status == 200
    assert one["deliveries"] == []
    status, _ = await monitored.api.call("DELETE", f"/webhooks/{hook['id']}", alice)
    assert status == 204
    status, _ = await monitored.api.call("DELETE", f"/webhooks/{hook['id']}", alice)
    assert status == 404


async def test_a_test_delivery_reaches_the_receiver_once(monitored: Monitored, receiver: Receiver) -> None:
    from tests.helpers import wait_until

    _, alice = await monitored.user("tester")
    _, bob = await monitored.user("tester-b")
    status, hook = await monitored.api.call("POST", "/webhooks", alice, json={"url": receiver.url("tested")})
    assert status == 201, hook
    status, _ = await monitored.api.call("POST", f"/webhooks/{hook['id']}/test", bob)
    assert status == 404
    status, sent = await monitored.api.call("POST", f"/webhooks/{hook['id']}/test", alice)
    assert status == 202, sent
    assert sent["status"] == "pending"
    found: dict[str, object] = {}

    async def delivered() -> bool:
        _, one = await monitored.api.call("GET", f"/webhooks/{hook['id']}", alice)
        found.update(next(d for d in one["deliveries"] if d["id"] == sent["delivery_id"]))
        return found["status"] != "pending"

    assert await wait_until(delivered, 30, interval=0.2)
    assert found["status"] == "delivered", found
    assert (found["attempts"], found["max_attempts"], found["response_status"]) == (1, 1, 200)
    assert found["payload_status"] == "webhook.test"
    (payload,) = receiver.received("tested")
    assert payload["type"] == "webhook.test"
    assert payload["webhook_id"] == hook["id"]


async def test_a_failed_test_delivery_is_tried_once_and_says_why(monitored: Monitored) -> None:
    from tests.e2e.service_process import free_port
    from tests.helpers import wait_until

    _, token = await monitored.user("tester-f")
    url = f"http://127.0.0.1:{free_port()}/nobody"  # nothing listens there
    status, hook = await monitored.api.call("POST", "/webhooks", token, json={"url": url})
    assert status == 201, hook
    status, sent = await monitored.api.call("POST", f"/webhooks/{hook['id']}/test", token)
    assert status == 202, sent
    found: dict[str, object] = {}

    async def ended() -> bool:
        _, one = await monitored.api.call("GET", f"/webhooks/{hook['id']}", token)
        found.update(one["deliveries"][0])
        return found["status"] != "pending"

    assert await wait_until(ended, 30, interval=0.2)
    assert found["status"] == "failed"
    assert (found["attempts"], found["max_attempts"], found["next_attempt_at"]) == (1, 1, None)
    assert str(found["error"]).startswith("cannot connect")
