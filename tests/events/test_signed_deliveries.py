"""Every delivery to a webhook is signed, alerts too: the real dispatcher posts to a local
receiver (allowed by the egress policy, as DBVEND_WEBHOOK_ALLOW would) and the receiver
checks the signature over the exact bytes it got with the secret the webhook was given."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from ipaddress import ip_network

import asyncpg
import pytest
from aiohttp import web
from cryptography.fernet import Fernet

from service.crypto import SecretBox
from service.db import webhooks as webhooks_repo
from service.monitoring import signing
from service.monitoring.delivery import Dispatcher
from service.monitoring.egress import EgressPolicy
from service.monitoring.payloads import MAX_ATTEMPTS
from tests.db import records
from tests.e2e.service_process import free_port

Got = list[tuple[dict[str, str], bytes]]


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[str, Got]]:
    got: Got = []

    async def take(request: web.Request) -> web.Response:
        got.append((dict(request.headers), await request.read()))
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/hook", take)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    yield f"http://127.0.0.1:{port}/hook", got
    await runner.cleanup()


async def test_alert_and_event_deliveries_are_signed(
    scratch_db: asyncpg.Pool, receiver: tuple[str, Got]
) -> None:
    url, got = receiver
    box = SecretBox((Fernet.generate_key().decode(),))
    secret = signing.new_secret()
    owner = await records.user(scratch_db)
    hook = await webhooks_repo.create(
        scratch_db, owner, url, True, events=["alerts", "instances"], secret=box.seal({"secret": secret})
    )
    legacy = await webhooks_repo.create(scratch_db, owner, url, True)  # made before secrets: unsigned
    alert_payload = {"version": "4", "status": "firing", "alerts": [{"labels": {"alertname": "x"}}]}
    event = {"id": 1, "type": "instance.stopped", "instance_id": "i-x", "status": "stopped"}
    await webhooks_repo.queue(
        scratch_db,
        [(hook.id, url, alert_payload), (hook.id, url, event), (legacy.id, url, event)],
        max_attempts=MAX_ATTEMPTS,
    )
    dispatcher = Dispatcher(scratch_db, EgressPolicy(allow=[ip_network("127.0.0.0/8")]), box=box)
    try:
        # The scratch database is shared: other tests' deliveries (to unresolvable names) go too.
        while await dispatcher.send_due():
            pass
    finally:
        await dispatcher.close()
    assert len(got) == 3
    signed = [(h, b) for h, b in got if "X-Dbvend-Signature" in h]
    assert len(signed) == 2
    assert sorted(h["X-Dbvend-Event"] for h, _ in signed) == ["alerts", "instance.stopped"]
    for headers, body in signed:
        assert signing.verify(
            secret, headers["X-Dbvend-Timestamp"], body, headers["X-Dbvend-Signature"], now=int(time.time())
        )
        assert json.loads(body) in (alert_payload, event)
    unsigned = [h for h, _ in got if "X-Dbvend-Signature" not in h]
    assert len(unsigned) == 1
    assert unsigned[0]["X-Dbvend-Event"] == "instance.stopped"
    assert secret not in repr(got)
