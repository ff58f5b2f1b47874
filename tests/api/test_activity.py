"""What the console's instance page reads besides the instance: its operations, newest first
and paged (GET /instances/{id}/operations), its metrics over a range in buckets (GET
/instances/{id}/metrics/history), and a health that never says "up" of an instance that is
not running. Another user's instance is 404 on each."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest

from service.db.samples import Sample, insert_many
from service.monitoring.health import health_of
from tests.conftest import UserFactory
from tests.helpers import Api

MIB = 1024 * 1024


@pytest.fixture(scope="module")
async def stopped_redis(service: Api, make_user: UserFactory) -> tuple[str, dict[str, Any]]:
    _, token = await make_user("activity")
    status, inst = await service.call(
        "POST", "/instances?wait=120", token, json={"engine": "redis", "settings": {"maxmemory": "16mb"}}
    )
    assert status == 201, inst
    status, stopped = await service.call("POST", f"/instances/{inst['id']}/stop?wait=120", token)
    assert status == 200, stopped
    return token, stopped


async def test_operations_newest_first_paged_and_owned(
    service: Api, make_user: UserFactory, stopped_redis: tuple[str, dict[str, Any]]
) -> None:
    token, inst = stopped_redis
    status, page = await service.call("GET", f"/instances/{inst['id']}/operations", token)
    assert status == 200, page
    assert [op["kind"] for op in page["items"]] == ["stop", "create"]
    assert all(op["status"] == "succeeded" and op["instance_id"] == inst["id"] for op in page["items"])
    assert page["next_cursor"] is None
    status, first = await service.call("GET", f"/instances/{inst['id']}/operations?limit=1", token)
    assert [op["kind"] for op in first["items"]] == ["stop"]
    status, second = await service.call(
        "GET", f"/instances/{inst['id']}/operations?limit=1&cursor={first['next_cursor']}", token
    )
    assert [op["kind"] for op in second["items"]] == ["create"]
    for bad in ("limit=0", "limit=201", "cursor=bm90IGEgY3Vyc29y", "limit=%00"):
        status, reply = await service.call("GET", f"/instances/{inst['id']}/operations?{bad}", token)
        assert status == 422, (bad, reply)
    _, other = await make_user("activity-other")
    status, _ = await service.call("GET", f"/instances/{inst['id']}/operations", other)
    assert status == 404
    status, _ = await service.call("GET", f"/instances/{inst['id']}/metrics/history", other)
    assert status == 404


async def test_a_stopped_instance_is_never_up(
    service: Api, stopped_redis: tuple[str, dict[str, Any]], db: asyncpg.Pool
) -> None:
    token, inst = stopped_redis
    # The last sample before the stop saw it answer: the detail still says not_running.
    await insert_many(db, [Sample(inst["id"], "running", True)], datetime.now(UTC))
    status, detail = await service.call("GET", f"/instances/{inst['id']}", token)
    assert status == 200, detail
    assert detail["status"] == "stopped"
    assert detail["health"]["state"] == "not_running"


def test_health_is_about_the_instance_as_it_is_now() -> None:
    now = datetime.now(UTC)
    up = Sample("i-x", "running", True, at=now - timedelta(seconds=5))
    down = Sample("i-x", "exited", False, at=now - timedelta(seconds=5))
    assert health_of(up, [], collect_interval=15).state == "up"
    assert health_of(up, [], collect_interval=15, status="stopped").state == "not_running"
    assert health_of(up, [], collect_interval=15, status="provisioning").state == "not_running"
    # A down sample from before the last change (a start) says nothing of the instance now.
    assert health_of(down, [], collect_interval=15, changed_at=now).state == "unknown"
    assert health_of(down, [], collect_interval=15, changed_at=now - timedelta(minutes=1)).state == "down"
    assert health_of(up, [], collect_interval=0).state == "unknown"


async def test_metrics_history_buckets_a_range(
    service: Api, make_user: UserFactory, stopped_redis: tuple[str, dict[str, Any]], db: asyncpg.Pool
) -> None:
    token, inst = stopped_redis
    now = datetime.now(UTC)

    def sample(used: int, connections: int) -> Sample:
        return Sample(
            inst["id"],
            "running",
            True,
            memory_bytes=40 * MIB,
            memory_limit_bytes=80 * MIB,
            cpu_percent=2.0,
            engine={"used_memory": used, "maxmemory": 16 * MIB, "connections": connections}
            | {"maxclients": 100},
            disk_bytes=4096,
        )

    # Two samples in one 15 s bucket of the 1h range (its buckets start at multiples of 15 s).
    bucket = datetime.fromtimestamp((now - timedelta(minutes=10)).timestamp() // 15 * 15, UTC)
    await insert_many(db, [sample(2 * MIB, 3)], bucket + timedelta(seconds=2))
    await insert_many(db, [sample(4 * MIB, 5)], bucket + timedelta(seconds=9))
    await insert_many(db, [sample(MIB, 1)], now - timedelta(hours=2))
    await insert_many(db, [sample(MIB, 1)], now - timedelta(days=3))
    counts = {}
    for window in ("1h", "6h", "24h", "7d"):
        path = f"/instances/{inst['id']}/metrics/history?range={window}"
        status, body = await service.call("GET", path, token)
        assert status == 200, body
        assert body["range"] == window
        assert len(body["points"]) <= 240
        assert body["step_seconds"] * 240 == {"1h": 3600, "6h": 21600, "24h": 86400, "7d": 604800}[window]
        counts[window] = sum(p["samples"] for p in body["points"])
        assert [p["at"] for p in body["points"]] == sorted(p["at"] for p in body["points"])
    # The sample the stopped-instance test added a moment ago counts too.
    assert counts["1h"] >= 2
    assert counts["6h"] == counts["1h"] + 1
    assert counts["7d"] == counts["24h"] + 1
    status, body = await service.call("GET", f"/instances/{inst['id']}/metrics/history?range=1h", token)
    (point,) = [p for p in body["points"] if datetime.fromisoformat(p["at"]) == bucket]
    assert point["samples"] == 2
    assert point["engine_memory_bytes"] == 3 * MIB  # the average
    assert point["engine_memory_limit_bytes"] == 16 * MIB
    assert point["connections"] == 4
    assert point["connection_limit"] == 100
    assert point["memory_limit_bytes"] == 80 * MIB
    assert point["disk_bytes"] == 4096
    assert point["up"] is True
    for bad in ("range=2h", "range=", "range=1h%0A", "range=%00"):
        status, reply = await service.call("GET", f"/instances/{inst['id']}/metrics/history?{bad}", token)
        if bad == "range=":
            assert status == 200  # empty is absent: the default, 1h
            continue
        assert status == 422, (bad, reply)
