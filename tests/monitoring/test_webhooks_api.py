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
