"""Webhooks cannot reach or read internal services (issue 8, hole 3), through the real
service, PostgreSQL and aiohttp delivery path:

- registration refuses internal URLs (422 naming `url`) on a service with no allow-list,
  and takes 127.0.0.0/8 where DBVEND_WEBHOOK_ALLOW says so (the monitored service);
- delivery checks the address it connects to (an injected resolver maps a name to
  127.0.0.1), follows no redirect and never reads the answer: a marker in a receiver's
  error body appears nowhere in the API or the log; credentials in a URL neither;
- each user has at most DBVEND_WEBHOOK_LIMIT webhooks: 403 quota_exceeded, nothing written.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from ipaddress import ip_network
from pathlib import Path
from typing import TYPE_CHECKING, Any

import asyncpg
import pytest
from aiohttp import web

from service.db import webhooks as webhooks_repo
from tests.e2e.service_process import free_port
from tests.helpers import Api, own_service, wait_until
from tests.monitoring.conftest import Monitored
from tests.ports import port_range

if TYPE_CHECKING:
    from service.monitoring.egress import EgressPolicy, Resolve

PAYLOAD = {"version": "4", "status": "firing", "alerts": []}


@dataclass
class Plain:
    """A service with the default webhook policy (no allow-list) and no monitoring loops,
    so nothing but the test sends its deliveries."""

    api: Api
    db: asyncpg.Pool
    admin_token: str

    async def user(self) -> tuple[int, str]:
        username = f"plain-{secrets.token_hex(3)}"
        password = secrets.token_urlsafe(16)
        status, body = await self.api.call(
            "POST", "/users", self.admin_token, json={"username": username, "password": password}
        )
        assert status == 201, body
        user_id = await self.db.fetchval("SELECT id FROM users WHERE username = $1", username)
        return int(user_id), await self.api.login(username, password)


@pytest.fixture(scope="module")
async def plain(session_dir: Path) -> AsyncIterator[Plain]:
    async with own_service(
        session_dir / "webhook-egress",
        port_range("monitoring.egress"),
        unset=("DBVEND_WEBHOOK_ALLOW",),
        DBVEND_COLLECT_INTERVAL="0",
        DBVEND_WORKER="off",
        DBVEND_HEALTH_INTERVAL="3600",
    ) as svc:
        yield Plain(svc.api, svc.db, svc.admin_token)


@dataclass
class Hit:
    method: str
    path: str
    headers: dict[str, str]


@dataclass
class Local:
    """Receivers on 127.0.0.1: /ok answers 204, /redirect 302 to /landing, /error 500 with
    a marker in its body, /landing records that it was reached."""

    port: int
    marker: str
    hits: list[Hit] = field(default_factory=list)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def paths(self) -> list[str]:
        return [h.path for h in self.hits]


@pytest.fixture(scope="module")
async def local() -> AsyncIterator[Local]:
    found = Local(free_port(), "MARKER-" + secrets.token_hex(8))

    async def handle(request: web.Request) -> web.StreamResponse:
        found.hits.append(Hit(request.method, request.path, dict(request.headers)))
        if request.path == "/redirect":
            raise web.HTTPFound(found.url("/landing"))
        if request.path == "/error":
            return web.Response(status=500, text=f"internal details {found.marker} " * 20)
        return web.Response(status=204)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", found.port).start()
    try:
        yield found
    finally:
        await runner.cleanup()


# -- registration ---------------------------------------------------------------------

INTERNAL = [
    "http://127.0.0.1:2375/containers/json",
    "http://169.254.169.254/latest/meta-data/",
    "http://10.0.0.1/",
    "http://[::1]:54329/",
    "http://0x7f000001/",
    "http://2130706433/",
    "http://0177.0.0.1/",
    "http://127.1/",
    "http://localhost/",
    "http://LOCALHOST./",
    "http://[::ffff:127.0.0.1]/",
    "http://[::127.0.0.1]/",
    "http://[0:0:0:0:0:0:0:1]/",
    "http://127.0.0.1./",
    "http://\uff11\uff12\uff17.\uff10.\uff10.\uff11/",
    "http://[fd00::1]/",
    "http://192.168.0.1/",
    "http://172.31.255.255/",
    "http://100.64.0.1/",
    "http://224.0.0.1/",
    "http://0.0.0.0/",
    "http://nowhere.invalid/",
    "http://alice:s3cret-pw@10.0.0.1/",
]


@pytest.mark.parametrize("url", INTERNAL)
async def test_a_user_cannot_register_an_internal_url(plain: Plain, url: str) -> None:
    user_id, token = await plain_user(plain)
    status, body = await plain.api.call("POST", "/webhooks", token, json={"url": url})
    assert status == 422, body
    [detail] = body["error"]["details"]
    assert detail["field"] == "url"
    assert detail["message"]  # says why
    assert "s3cret" not in json.dumps(body)
    assert await plain.db.fetchval("SELECT count(*) FROM webhooks WHERE owner_id = $1", user_id) == 0


_PLAIN_USERS: list[tuple[int, str]] = []


async def plain_user(plain: Plain) -> tuple[int, str]:
    """One user for the parametrised cases (a login each would trip the login throttle)."""
    if not _PLAIN_USERS:
        _PLAIN_USERS.append(await plain.user())
    return _PLAIN_USERS[0]


async def test_the_allow_list_lets_loopback_through_and_nothing_more(monitored: Monitored) -> None:
    # tests/monitoring/conftest.py runs the monitored service with DBVEND_WEBHOOK_ALLOW=127.0.0.0/8.
    _, token = await monitored.user("allow")
    status, hook = await monitored.api.call("POST", "/webhooks", token, json={"url": "http://127.0.0.1:9/x"})
    assert status == 201, hook
    status, hook = await monitored.api.call("POST", "/webhooks", token, json={"url": "http://localhost:9/x"})
    assert status == 201, hook
    for url in ("http://[::1]:9/", "http://10.0.0.1/", "http://169.254.169.254/", "http://127.0.0.1:8080/"):
        status, body = await monitored.api.call("POST", "/webhooks", token, json={"url": url})
        assert status == 422, (url, body)
        assert body["error"]["details"][0]["field"] == "url"


# -- delivery -------------------------------------------------------------------------


def fixed(addresses: Mapping[str, Sequence[str]]) -> Resolve:
    """A resolver for names that public DNS does not have (the test cannot use it)."""

    async def resolve(host: str, port: int) -> Sequence[str]:
        if host not in addresses:
            raise OSError(f"{host} does not resolve")
        return addresses[host]

    return resolve


async def deliver(pool: asyncpg.Pool, policy: EgressPolicy, webhook_id: int, url: str) -> dict[str, Any]:
    """Queue one delivery to `url` and send it with the real dispatcher; its row after."""
    from service.monitoring.delivery import Dispatcher

    await webhooks_repo.queue(pool, [(webhook_id, url, PAYLOAD)], max_attempts=1)
    dispatcher = Dispatcher(pool, policy)
    try:
        assert await dispatcher.send_due() == 1
    finally:
        await dispatcher.close()
    row = await pool.fetchrow(
        "SELECT status, response_status, error FROM deliveries WHERE webhook_id = $1"
        " ORDER BY id DESC LIMIT 1",
        webhook_id,
    )
    assert row is not None
    return dict(row)


async def test_delivery_checks_the_address_it_connects_to(plain: Plain, local: Local) -> None:
    from service.monitoring.egress import EgressPolicy

    user_id, _ = await plain_user(plain)
    url = f"http://hooks.test:{local.port}/ok"  # public-looking, resolves (here) to 127.0.0.1
    hook = await webhooks_repo.create(plain.db, user_id, url, True)
    names = fixed({"hooks.test": ["127.0.0.1"]})
    before = len(local.hits)

    row = await deliver(plain.db, EgressPolicy(resolve=names), hook.id, url)
    assert row["status"] == "failed"
    assert row["response_status"] is None
    assert row["error"] == (
        "refused by the webhook policy: the host resolves to an address that is a loopback address"
    )
    assert len(local.hits) == before  # never connected

    # The same resolver with loopback allowed: the request reaches 127.0.0.1 although no
    # DNS knows hooks.test, so the client connected to the address the policy checked,
    # and the Host header still names the URL's host.
    allowing = EgressPolicy(allow=[ip_network("127.0.0.0/8")], resolve=names)
    row = await deliver(plain.db, allowing, hook.id, url)
    assert row["status"] == "delivered", row
    assert local.hits[-1].path == "/ok"
    assert local.hits[-1].headers["Host"] == f"hooks.test:{local.port}"


async def test_a_name_that_turns_inward_after_registration_is_refused(plain: Plain, local: Local) -> None:
    from service.monitoring.egress import EgressPolicy

    user_id, _ = await plain_user(plain)
    answers = iter([["93.184.215.14"], ["127.0.0.1"]])

    async def rebinding(host: str, port: int) -> Sequence[str]:
        return next(answers)

    policy = EgressPolicy(resolve=rebinding)
    url = f"http://rebind.test:{local.port}/ok"
    await policy.check(url)  # registration: public then
    hook = await webhooks_repo.create(plain.db, user_id, url, True)
    before = len(local.hits)
    row = await deliver(plain.db, policy, hook.id, url)
    assert row["status"] == "failed"
    assert "loopback" in row["error"]
    assert len(local.hits) == before


async def test_a_webhook_stored_before_the_policy_is_refused_at_delivery(plain: Plain, local: Local) -> None:
    from service.monitoring.egress import EgressPolicy

    # Rows registered by an older version (or written around the API) are checked again.
    user_id, _ = await plain_user(plain)
    url = local.url("/ok")
    hook = await webhooks_repo.create(plain.db, user_id, url, True)
    before = len(local.hits)
    row = await deliver(plain.db, EgressPolicy(), hook.id, url)
    assert row["status"] == "failed"
    assert row["error"] == "refused by the webhook policy: the host is a loopback address"
    assert len(local.hits) == before


async def _delivered_through_the_service(monitored: Monitored, token: str, url: str) -> dict[str, Any]:
    """Register `url` through the API, queue one delivery and let the service's own
    dispatcher send it; the webhook as GET /webhooks/{id} shows it afterwards."""
    status, hook = await monitored.api.call("POST", "/webhooks", token, json={"url": url})
    assert status == 201, hook
    await webhooks_repo.queue(monitored.db, [(hook["id"], url, PAYLOAD)], max_attempts=1)

    async def tried() -> bool:
        status = await monitored.db.fetchval(
            "SELECT status FROM deliveries WHERE webhook_id = $1", hook["id"]
        )
        return bool(status != "pending")

    assert await wait_until(tried, 60), "the service's dispatcher did not send the delivery"
    status, shown = await monitored.api.call("GET", f"/webhooks/{hook['id']}", token)
    assert status == 200, shown
    return dict(shown)


async def test_redirects_are_not_followed(monitored: Monitored, local: Local) -> None:
    _, token = await monitored.user("redirect")
    before = local.paths().count("/landing")
    shown = await _delivered_through_the_service(monitored, token, local.url("/redirect"))
    [delivery] = shown["deliveries"]
    assert delivery["status"] == "failed"
    assert delivery["response_status"] == 302
    assert delivery["error"] == "HTTP 302: redirect not followed"
    assert "/redirect" in local.paths()
    assert local.paths().count("/landing") == before == 0


async def test_the_answer_of_a_receiver_is_never_read_back(
    monitored: Monitored, local: Local, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    _, token = await monitored.user("body")
    shown = await _delivered_through_the_service(monitored, token, local.url("/error"))
    [delivery] = shown["deliveries"]
    assert delivery["response_status"] == 500
    assert delivery["error"] == "HTTP 500"
    seen = [json.dumps(shown)]
    for path in ("/webhooks", "/events?limit=1000", "/alerts"):
        for who in (token, monitored.admin_token):
            status, body = await monitored.api.call("GET", path, who)
            assert status == 200, body
            seen.append(json.dumps(body))
    assert "/error" in local.paths()
    assert local.marker not in "".join(seen)
    assert local.marker not in caplog.text
    assert "delivery" in caplog.text  # the failure was logged, without the body


async def test_credentials_in_a_url_are_used_but_never_shown_or_logged(
    monitored: Monitored, local: Local, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    _, token = await monitored.user("creds")
    secret = "pw-" + secrets.token_hex(8)
    url = f"http://hookuser:{secret}@127.0.0.1:{local.port}/error"
    shown = await _delivered_through_the_service(monitored, token, url)
    assert shown["url"] == f"http://***@127.0.0.1:{local.port}/error"
    status, listing = await monitored.api.call("GET", "/webhooks", token)
    assert status == 200
    views = json.dumps([shown, listing])
    assert secret not in views
    assert "hookuser" not in views
    assert secret not in caplog.text
    assert "hookuser" not in caplog.text
    assert "127.0.0.1" in caplog.text  # the log names the host it failed to deliver to
    # The receiver got them, as HTTP Basic credentials.
    auth = [h.headers.get("Authorization", "") for h in local.hits if h.path == "/error"]
    assert any(a.startswith("Basic ") for a in auth)


# -- limit ----------------------------------------------------------------------------


async def test_each_user_has_a_webhook_limit(monitored: Monitored) -> None:
    _, token = await monitored.user("limit")
    username = (await monitored.api.call("GET", "/me", token))[1]["username"]
    limit = 10  # DBVEND_WEBHOOK_LIMIT's default

    async def create(n: int) -> tuple[int, Any]:
        return await monitored.api.call("POST", "/webhooks", token, json={"url": f"http://127.0.0.1:9/{n}"})

    for n in range(limit - 2):
        status, body = await create(n)
        assert status == 201, body
    # Concurrent requests cannot overshoot: two of these five fit.
    results = await asyncio.gather(*(create(100 + n) for n in range(5)))
    assert sorted(status for status, _ in results) == [201, 201, 403, 403, 403]
    status, body = await create(200)
    assert status == 403, body
    assert body["error"]["code"] == "quota_exceeded"
    assert str(limit) in body["error"]["message"]
    count = await monitored.db.fetchval(
        "SELECT count(*) FROM webhooks w JOIN users u ON u.id = w.owner_id"
        " WHERE u.username = $1 AND w.deleted_at IS NULL",
        username,
    )
    assert count == limit
    status, listing = await monitored.api.call("GET", "/webhooks", token)
    assert len(listing["items"]) == limit
    # A deleted webhook frees its place.
    status, _ = await monitored.api.call("DELETE", f"/webhooks/{listing['items'][0]['id']}", token)
    assert status == 204
    status, body = await create(300)
    assert status == 201, body
