"""GET /api/v1/events/stream and signed webhooks, end to end: two real service processes on
one database, one real Redis instance. Alice's WebSocket on process 2 (header token) and
her SSE stream on process 1 get her instance's events, whichever process made them; Bob's
WebSocket (first-message token) and Bob's webhook get nothing of hers; Alice's webhook gets
the events signed with the secret it was given."""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from cryptography.fernet import Fernet

from service.monitoring import signing
from tests.e2e.service_process import ServiceProcess, free_port
from tests.helpers import create_database, drop_database, write_inventory
from tests.ports import port_range

pytestmark = pytest.mark.timeout(600)
HEARTBEAT = 2


@dataclass
class Receiver:
    url: str
    got: list[tuple[str, dict[str, str], bytes]] = field(default_factory=list)

    def bodies(self, path: str) -> list[dict[str, Any]]:
        return [json.loads(body) for p, _, body in self.got if p == path]


@pytest.fixture(scope="module")
async def receiver() -> AsyncIterator[Receiver]:
    port = free_port()
    found = Receiver(f"http://127.0.0.1:{port}")

    async def take(request: web.Request) -> web.Response:
        found.got.append((request.path, dict(request.headers), await request.read()))
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/{name}", take)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    yield found
    await runner.cleanup()


@pytest.fixture(scope="module")
async def services(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[tuple[ServiceProcess, ...]]:
    tmp = tmp_path_factory.mktemp("events")
    url = await create_database()
    inventory = write_inventory(tmp / "inventory", ports=port_range("events.stream"))
    env = {
        "DBVEND_SECRET_KEY": Fernet.generate_key().decode(),  # both processes read the same secrets
        "DBVEND_COLLECT_INTERVAL": "0",
        "DBVEND_WEBHOOK_ALLOW": "127.0.0.0/8",
        "DBVEND_STREAM_HEARTBEAT": str(HEARTBEAT),
        "DBVEND_STREAM_LIMIT": "3",
    }
    procs = tuple(
        ServiceProcess(url, tmp / f"state{n}", inventory, tmp / f"service{n}.log", **env) for n in (1, 2)
    )
    try:
        for proc in procs:
            await proc.start()
        yield procs
    finally:
        for proc in procs:
            await proc.stop()
        await drop_database(url)


async def _user(svc: ServiceProcess, prefix: str) -> tuple[str, str]:
    name, password = f"{prefix}-{secrets.token_hex(3)}", secrets.token_urlsafe(16)
    status, body = await svc.call("POST", "/users", json={"username": name, "password": password})
    assert status == 201, body
    async with (
        aiohttp.ClientSession() as s,
        s.post(svc.base + "/auth/login", json={"username": name, "password": password}) as r,
    ):
        return name, (await r.json())["token"]


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _ws_url(svc: ServiceProcess) -> str:
    return svc.base.replace("http://", "ws://") + "/events/stream"


async def _collect_ws(ws: aiohttp.ClientWebSocketResponse, into: list[dict[str, Any]]) -> None:
    async for msg in ws:
        if msg.type is aiohttp.WSMsgType.TEXT:
            into.append(json.loads(msg.data))


async def _sse_events(resp: aiohttp.ClientResponse) -> AsyncIterator[dict[str, str]]:
    """Each SSE event as its fields (id, event, data); comments as {"comment": ...}."""
    fields: dict[str, str] = {}
    async for raw in resp.content:
        line = raw.decode().rstrip("\n")
        if not line:
            if fields:
                yield fields
            fields = {}
        elif line.startswith(":"):
            yield {"comment": line[1:].strip()}
        else:
            name, _, value = line.partition(":")
            fields[name] = value.lstrip(" ")


async def _collect_sse(resp: aiohttp.ClientResponse, into: list[dict[str, str]]) -> None:
    async for event in _sse_events(resp):
        into.append(event)


async def _until(check: Any, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        await asyncio.sleep(0.2)
    return bool(check())


@dataclass
class Scenario:
    instance_id: str
    alice_ws: list[dict[str, Any]]
    bob_ws: list[dict[str, Any]]
    alice_sse: list[dict[str, str]]
    resumed: list[dict[str, str]]
    alice_secret: str
    receiver: Receiver


def _of(messages: list[dict[str, Any]], instance_id: str) -> list[dict[str, Any]]:
    return [m for m in messages if m.get("instance_id") == instance_id]


@pytest.fixture(scope="module")
async def scenario(services: tuple[ServiceProcess, ...], receiver: Receiver) -> Scenario:
    p1, p2 = services
    _, alice = await _user(p1, "alice")
    _, bob = await _user(p1, "bob")
    hooks = {}
    for name, token, events in (("alice", alice, ["instances"]), ("bob", bob, ["alerts", "instances"])):
        async with (
            aiohttp.ClientSession() as s,
            s.post(
                p1.base + "/webhooks",
                headers=_auth(token),
                json={"url": f"{receiver.url}/{name}", "events": events},
            ) as r,
        ):
            hooks[name] = await r.json()
            assert r.status == 201, hooks[name]
    assert hooks["alice"]["secret"].startswith("whsec_")
    assert hooks["alice"]["signed"] is True

    alice_ws: list[dict[str, Any]] = []
    bob_ws: list[dict[str, Any]] = []
    alice_sse: list[dict[str, str]] = []
    async with aiohttp.ClientSession() as s:
        ws_a = await s.ws_connect(_ws_url(p2), headers=_auth(alice))
        ws_b = await s.ws_connect(_ws_url(p2))
        await ws_b.send_json({"token": bob})
        sse = await s.get(p1.base + "/events/stream", headers={**_auth(alice), "Accept": "text/event-stream"})
        assert sse.status == 200
        assert sse.content_type == "text/event-stream"
        tasks = [
            asyncio.create_task(_collect_ws(ws_a, alice_ws)),
            asyncio.create_task(_collect_ws(ws_b, bob_ws)),
            asyncio.create_task(_collect_sse(sse, alice_sse)),
        ]
        assert await _until(lambda: alice_ws and bob_ws, 10), (alice_ws, bob_ws)
        async with s.post(
            p1.base + "/instances?wait=180", headers=_auth(alice), json={"engine": "redis"}
        ) as r:
            created = await r.json()
            assert r.status == 201, created
        iid = created["id"]
        assert await _until(lambda: any(m.get("type") == "instance.running" for m in _of(alice_ws, iid)), 30)
        assert await _until(lambda: any(e.get("event") == "instance.running" for e in alice_sse), 30)
        assert await _until(lambda: len(receiver.bodies("/alice")) >= 2, 60), receiver.got

        # Two more heartbeats on every stream: anything misrouted would have arrived before.
        def beats() -> tuple[int, int, int]:
            return (
                sum(m.get("type") == "heartbeat" for m in alice_ws),
                sum(m.get("type") == "heartbeat" for m in bob_ws),
                sum("heartbeat" in e.get("comment", "") for e in alice_sse),
            )

        before = beats()
        assert await _until(lambda: all(n >= b + 2 for n, b in zip(beats(), before, strict=True)), 30), (
            before,
            beats(),
        )
        for ws in (ws_a, ws_b):
            await ws.close()
        sse.close()
        for task in tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, aiohttp.ClientError):
                await task

        first = next(e for e in alice_sse if e.get("event") == "instance.created")
        resumed: list[dict[str, str]] = []
        async with s.get(
            p2.base + "/events/stream",
            headers={**_auth(alice), "Accept": "text/event-stream", "Last-Event-ID": first["id"]},
        ) as again:
            async for event in _sse_events(again):
                resumed.append(event)
                if event.get("event") == "instance.running":
                    break
        async with s.delete(p1.base + f"/instances/{iid}?wait=120", headers=_auth(alice)) as r:
            assert r.status == 204, await r.text()
    return Scenario(iid, alice_ws, bob_ws, alice_sse, resumed, hooks["alice"]["secret"], receiver)


async def test_websocket_gets_own_events_made_by_the_other_process(scenario: Scenario) -> None:
    mine = _of(scenario.alice_ws, scenario.instance_id)
    assert [m["type"] for m in mine][:2] == ["instance.created", "instance.running"]
    assert [m["status"] for m in mine][:2] == ["provisioning", "running"]
    assert set(mine[0]) == {"id", "type", "instance_id", "status", "at", "operation_id"}
    assert mine[0]["operation_id"] == mine[1]["operation_id"]
    assert scenario.alice_ws[0]["type"] == "ready"
    assert any(m["type"] == "heartbeat" for m in scenario.alice_ws)


async def test_another_user_gets_nothing(scenario: Scenario) -> None:
    assert scenario.bob_ws[0]["type"] == "ready"  # authenticated by the first message
    assert {m["type"] for m in scenario.bob_ws} <= {"ready", "heartbeat"}, scenario.bob_ws
    assert scenario.receiver.bodies("/bob") == []


async def test_sse_and_resume(scenario: Scenario) -> None:
    named = [e for e in scenario.alice_sse if e.get("event", "").startswith("instance.")]
    types = [e["event"] for e in named if json.loads(e["data"])["instance_id"] == scenario.instance_id]
    assert types[:2] == ["instance.created", "instance.running"]
    assert all(e["id"] == str(json.loads(e["data"])["id"]) for e in named)
    assert any(e.get("comment", "").startswith("heartbeat") for e in scenario.alice_sse)
    replayed = [e for e in scenario.resumed if "event" in e]
    assert [e["event"] for e in replayed] == ["instance.running"]  # after the created one, not it


async def test_webhook_gets_signed_instance_events(scenario: Scenario) -> None:
    got = [(h, body) for p, h, body in scenario.receiver.got if p == "/alice"]
    kinds = [json.loads(body)["type"] for _, body in got]
    assert kinds[:2] == ["instance.created", "instance.running"]
    for headers, body in got:
        assert headers["X-Dbvend-Event"] == json.loads(body)["type"]
        assert signing.verify(
            scenario.alice_secret,
            headers["X-Dbvend-Timestamp"],
            body,
            headers["X-Dbvend-Signature"],
            now=int(time.time()),
        )
        sent, stamp = headers["X-Dbvend-Signature"], headers["X-Dbvend-Timestamp"]
        assert not signing.verify("whsec_wrong", stamp, body, sent, now=int(time.time()))
        assert not signing.verify(scenario.alice_secret, stamp, body + b" ", sent, now=int(time.time()))


async def test_refusals(services: tuple[ServiceProcess, ...]) -> None:
    p1, _ = services
    _, carol = await _user(p1, "carol")
    url = p1.base + "/events/stream"
    sse = {"Accept": "text/event-stream"}
    async with aiohttp.ClientSession() as s:
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await s.ws_connect(_ws_url(p1), headers=_auth("dbv_" + "x" * 43))
        assert refused.value.status == 401
        for first in ({"token": "dbv_wrong"}, {"token": carol, "extra": 1}, "not json"):
            ws = await s.ws_connect(_ws_url(p1))
            await (ws.send_json(first) if isinstance(first, dict) else ws.send_str(first))
            msg = await ws.receive(timeout=10)
            assert msg.type is aiohttp.WSMsgType.CLOSE, (first, msg)
            assert ws.close_code == 4401, (first, msg)
        ws = await s.ws_connect(_ws_url(p1))  # says nothing: closed after 5 s
        msg = await ws.receive(timeout=30)
        assert msg.type is aiohttp.WSMsgType.CLOSE
        assert ws.close_code == 4401
        async with s.get(url, headers=sse) as r:
            assert r.status == 401
        async with s.get(url, headers={**sse, "Authorization": "Bearer nope"}) as r:
            assert r.status == 401
        async with s.get(url, headers=_auth(carol)) as r:
            assert r.status == 400
        for bad in ("abc", "-1", "1" * 19, "1 2"):
            async with s.get(url, headers={**sse, **_auth(carol), "Last-Event-ID": bad}) as r:
                body = await r.json()
                assert r.status == 422, bad
                assert body["error"]["details"][0]["field"] == "Last-Event-ID"
        streams = [await s.get(url, headers={**sse, **_auth(carol)}) for _ in range(3)]
        assert all(r.status == 200 for r in streams)
        async with s.get(url, headers={**sse, **_auth(carol)}) as r:
            assert r.status == 429
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await s.ws_connect(_ws_url(p1), headers=_auth(carol))
        assert refused.value.status == 429
        for r in streams:
            r.close()


async def test_revoked_token_ends_the_stream(services: tuple[ServiceProcess, ...]) -> None:
    p1, _ = services
    _, dave = await _user(p1, "dave")
    async with aiohttp.ClientSession() as s:
        ws = await s.ws_connect(_ws_url(p1), headers=_auth(dave))
        assert json.loads((await ws.receive(timeout=10)).data)["type"] == "ready"
        async with s.post(p1.base + "/auth/logout", headers=_auth(dave)) as r:
            assert r.status == 204
        deadline = time.monotonic() + HEARTBEAT * 10
        while time.monotonic() < deadline:
            msg = await ws.receive(timeout=HEARTBEAT * 10)
            if msg.type is not aiohttp.WSMsgType.TEXT:
                break
        assert ws.close_code == 4401
