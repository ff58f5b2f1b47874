"""The per-process cache of rendered instance details and list pages (service/instances/view_cache.py)
never shows what PostgreSQL no longer holds: a change made anywhere (here: UPDATEs and INSERTs
straight in PostgreSQL, as another service process would make them) is announced on
dbvend_views by migration 0026's triggers and seen at the next read, well before the cache's
own bound (DBVEND_VIEW_CACHE_SECONDS, 10 s); a lost LISTEN connection empties it; an entry is
served only to its owner and administrators; a hostile tenant cannot grow it past its budget."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from service.app import RUNTIME
from service.events.stream import HUB
from service.instances.view_cache import ViewCache
from tests.conftest import UserFactory
from tests.helpers import Api, own_service
from tests.ports import port_range

TTL = 10.0  # the default the test service runs with
NOTICED = 5.0  # a change must show well within TTL: only a notification can explain that


@pytest.fixture(scope="module")
async def owned(service: Api, make_user: UserFactory) -> AsyncIterator[tuple[str, str]]:
    """(token, instance id) of a running Redis instance of a fresh user."""
    _, token = await make_user("views")
    status, body = await service.call(
        "POST", "/instances?wait=120", token, json={"engine": "redis", "name": "views"}
    )
    assert status == 201, body
    yield token, body["id"]
    await service.call("DELETE", f"/instances/{body['id']}?wait=120", token)


def _cache(service: Api) -> ViewCache:
    return service.client.server.app[RUNTIME].views


async def _served_until(service: Api, path: str, token: str, changed: Any, seconds: float) -> float:
    """Seconds until GET `path` satisfies `changed` (fails after `seconds`)."""
    started = time.monotonic()
    while True:
        status, body = await service.call("GET", path, token)
        assert status == 200, body
        if changed(body):
            return time.monotonic() - started
        assert time.monotonic() - started < seconds, f"{path} still shows the old state: {body}"
        await asyncio.sleep(0.05)


async def test_a_detail_is_cached_and_a_change_by_another_process_shows_at_once(
    service: Api, owned: tuple[str, str], db: asyncpg.Pool
) -> None:
    token, iid = owned
    cache = _cache(service)
    assert cache.enabled
    await service.call("GET", f"/instances/{iid}", token)
    hits = cache.hits
    status, before = await service.call("GET", f"/instances/{iid}", token)
    assert status == 200
    assert cache.hits == hits + 1, "the second read of an unchanged instance was not served from the cache"
    async with service.client.get("/metrics") as resp:
        exposed = await resp.text()
    assert f'dbvend_view_cache_reads_total{{result="hit"}} {float(cache.hits)}' in exposed
    assert "dbvend_view_cache_bytes " in exposed

    await db.execute("UPDATE instances SET name = 'renamed-elsewhere' WHERE id = $1", iid)
    await _served_until(
        service, f"/instances/{iid}", token, lambda b: b["name"] == "renamed-elsewhere", NOTICED
    )
    # The list showed it too (pages are dropped by any instance change).
    await _served_until(
        service,
        "/instances",
        token,
        lambda b: [i["name"] for i in b["items"]] == ["renamed-elsewhere"],
        NOTICED,
    )
    await db.execute("UPDATE instances SET name = $2 WHERE id = $1", iid, before["name"])


@pytest.fixture(scope="module")
async def monitoring(session_dir: Path) -> AsyncIterator[tuple[Api, asyncpg.Pool, str, str]]:
    """(api, db, token, instance id): a service of this module's own that monitors (the
    session's runs without the collector, so its details say health "unknown"), with hourly
    rounds so that only the test writes samples, and a running Redis of a fresh user."""
    async with own_service(
        session_dir / "view-cache", port_range("api.view_cache"), DBVEND_COLLECT_INTERVAL="3600"
    ) as svc:
        password = secrets.token_urlsafe(16)
        status, body = await svc.api.call(
            "POST", "/users", svc.admin_token, json={"username": "views", "password": password}
        )
        assert status == 201, body
        token = await svc.api.login("views", password)
        status, body = await svc.api.call(
            "POST", "/instances?wait=120", token, json={"engine": "redis", "name": "views"}
        )
        assert status == 201, body
        yield svc.api, svc.db, token, body["id"]
        await svc.api.call("DELETE", f"/instances/{body['id']}?wait=120", token)


async def test_a_new_sample_and_an_alert_show_in_the_detail_at_once(
    monitoring: tuple[Api, asyncpg.Pool, str, str],
) -> None:
    service, db, token, iid = monitoring
    await service.call("GET", f"/instances/{iid}", token)
    await service.call("GET", f"/instances/{iid}", token)  # cached now
    await db.execute(
        "INSERT INTO samples (instance_id, at, container_status, up, error)"
        " VALUES ($1, now() + interval '1 hour', 'running', false, $2)",
        iid,
        "view-cache-test",
    )
    await _served_until(
        service,
        f"/instances/{iid}",
        token,
        lambda b: b["health"]["error"] == "view-cache-test" and b["health"]["state"] == "down",
        NOTICED,
    )
    await db.execute(
        "INSERT INTO alerts (rule, fingerprint, instance_id, status, severity, labels, annotations,"
        " pending_since, starts_at, last_true_at) VALUES ('ViewCacheTest', $2, $1, 'firing', 'warning',"
        " '{}', '{\"summary\": \"view cache\"}', now(), now(), now())",
        iid,
        f"view-cache-{iid}",
    )
    try:
        await _served_until(
            service,
            f"/instances/{iid}",
            token,
            lambda b: [a["rule"] for a in b["health"]["open_alerts"]] == ["ViewCacheTest"],
            NOTICED,
        )
        await db.execute("UPDATE alerts SET status = 'resolved' WHERE fingerprint = $1", f"view-cache-{iid}")
        await _served_until(
            service, f"/instances/{iid}", token, lambda b: b["health"]["open_alerts"] == [], NOTICED
        )
    finally:
        await db.execute("DELETE FROM alerts WHERE fingerprint = $1", f"view-cache-{iid}")
        await db.execute("DELETE FROM samples WHERE instance_id = $1 AND error = 'view-cache-test'", iid)


async def test_a_cached_detail_is_not_served_to_another_tenant(
    service: Api, owned: tuple[str, str], make_user: UserFactory, admin_token: str
) -> None:
    token, iid = owned
    await service.call("GET", f"/instances/{iid}", token)
    await service.call("GET", f"/instances/{iid}", token)  # cached for its owner
    _, other = await make_user("views")
    status, body = await service.call("GET", f"/instances/{iid}", other)
    assert status == 404, body
    status, body = await service.call("GET", "/instances", other)
    assert status == 200, body
    assert body["items"] == []
    status, body = await service.call("GET", f"/instances/{iid}", admin_token)
    assert status == 200
    assert body["id"] == iid


async def test_a_lost_listen_connection_empties_the_cache(
    service: Api, owned: tuple[str, str], db: asyncpg.Pool
) -> None:
    token, iid = owned
    hub = service.client.server.app[HUB]
    cache = _cache(service)
    await service.call("GET", f"/instances/{iid}", token)
    await service.call("GET", f"/instances/{iid}", token)
    pid = hub.listener_pid()
    assert pid is not None
    await db.execute("SELECT pg_terminate_backend($1)", pid)
    for _ in range(300):
        if not hub.listening.is_set():
            break
        await asyncio.sleep(0.01)
    assert not hub.listening.is_set()
    assert not cache.enabled
    # Committed while no one listens: the notification is lost for good.
    await db.execute("UPDATE instances SET name = 'renamed-unheard' WHERE id = $1", iid)
    status, body = await service.call("GET", f"/instances/{iid}", token)
    assert status == 200, body
    assert body["name"] == "renamed-unheard", "served from the cache while deaf"
    await asyncio.wait_for(hub.listening.wait(), 30)
    assert hub.listener_pid() not in (None, pid)
    assert cache.enabled
    await _served_until(
        service, f"/instances/{iid}", token, lambda b: b["name"] == "renamed-unheard", NOTICED
    )
    await db.execute("UPDATE instances SET name = 'views' WHERE id = $1", iid)
    await _served_until(service, f"/instances/{iid}", token, lambda b: b["name"] == "views", NOTICED)


def _listening_cache(ttl: float = 10.0, budget: int = 1024) -> ViewCache:
    cache = ViewCache(ttl, max_bytes=budget)
    cache.attach(lambda: True)
    return cache


def test_an_answer_read_before_a_change_is_not_kept() -> None:
    cache = _listening_cache()
    generation = cache.generation
    cache.notified("i-a")  # committed while the read was in flight
    cache.keep_detail(generation, "i-a", 1, b"old", valid_for=60)
    assert cache.detail("i-a", 1) is None
    cache.keep_detail(cache.generation, "i-a", 1, b"new", valid_for=60)
    assert cache.detail("i-a", 1) == b"new"


def test_entries_end_with_their_health_and_the_ttl() -> None:
    cache = _listening_cache(ttl=0.2)
    cache.keep_detail(cache.generation, "i-a", 1, b"x", valid_for=60)
    cache.keep_detail(cache.generation, "i-b", 1, b"y", valid_for=0.05)
    cache.keep_page(cache.generation, ("p",), b"z")
    time.sleep(0.1)
    assert cache.detail("i-b", 1) is None  # its health turned stale
    assert cache.detail("i-a", 1) == b"x"
    time.sleep(0.15)
    assert cache.detail("i-a", 1) is None
    assert cache.page(("p",)) is None


def test_a_sample_drops_the_detail_only_and_an_instance_change_every_page() -> None:
    cache = _listening_cache()
    cache.keep_detail(cache.generation, "i-a", 1, b"a", valid_for=60)
    cache.keep_detail(cache.generation, "i-b", 1, b"b", valid_for=60)
    cache.keep_page(cache.generation, (1,), b"page")
    cache.notified("d:i-a")
    assert cache.detail("i-a", 1) is None
    assert cache.page((1,)) == b"page"
    cache.notified("i-b")
    assert cache.detail("i-b", 1) is None
    assert cache.page((1,)) is None
    cache.keep_detail(cache.generation, "i-a", 1, b"a", valid_for=60)
    cache.notified("*")
    assert cache.detail("i-a", 1) is None


def test_owners_and_admins_only() -> None:
    cache = _listening_cache()
    cache.keep_detail(cache.generation, "i-a", 7, b"a", valid_for=60)
    assert cache.detail("i-a", 8) is None
    assert cache.detail("i-a", 7) == b"a"
    assert cache.detail("i-a", None) == b"a"  # an administrator


def test_many_distinct_pages_stay_within_the_budget() -> None:
    cache = _listening_cache(budget=10_000)
    for n in range(5000):  # a tenant walking through made-up cursors
        cache.keep_page(cache.generation, (1, n), b"x" * 100)
    assert cache.size <= 10_000
    assert cache.page((1, 4999)) is not None
    assert cache.page((1, 0)) is None
    cache.keep_page(cache.generation, (1, "huge"), b"x" * 20_000)  # larger than the budget: not kept
    assert cache.page((1, "huge")) is None


def test_nothing_is_cached_while_deaf_or_switched_off() -> None:
    deaf = ViewCache(10.0)
    deaf.keep_detail(deaf.generation, "i-a", 1, b"a", valid_for=60)
    assert deaf.detail("i-a", 1) is None
    off = ViewCache(0.0)
    off.attach(lambda: True)
    off.keep_detail(off.generation, "i-a", 1, b"a", valid_for=60)
    assert off.detail("i-a", 1) is None
