"""The data-size guard, with the real collector (3 s rounds): each instance's directory on
its host is measured every round and shown in its metrics and in /metrics, with the size
and free space of the host's data root; HostDataRootFilling fires when an admin raises its
threshold past what is free and resolves when it is set back; InstanceDiskLarge likewise
for one instance. Host alerts are the admins'; the instance one is its owner's too."""

from __future__ import annotations

import asyncio
import os
import re
from typing import Any

import redis

from tests.helpers import wait_until
from tests.monitoring.conftest import COLLECT_INTERVAL, Monitored
from tests.monitoring.test_instances import alert_of, create, delete

MIB = 1024 * 1024
HOST = "local"  # the monitored service's inventory host


async def _metrics(m: Monitored, token: str, instance_id: str) -> list[dict[str, Any]]:
    status, body = await m.api.call("GET", f"/instances/{instance_id}/metrics", token)
    assert status == 200, body
    return list(body["items"])


async def _prometheus(m: Monitored) -> str:
    async with m.api.client.get("/metrics") as response:
        assert response.status == 200
        return await response.text()


def _gauge(text: str, name: str, **labels: str) -> float | None:
    for line in text.splitlines():
        match = re.fullmatch(rf"{name}\{{([^}}]*)\}} (\S+)", line)
        if match is None:
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', match.group(1)))
        if all(found.get(k) == v for k, v in labels.items()):
            return float(match.group(2))
    return None


async def _host_alert(m: Monitored, status: str | None = None) -> dict[str, Any] | None:
    filters = {"rule": "HostDataRootFilling", **({"status": status} if status else {})}
    found = [a for a in await m.alerts(**filters) if a["labels"].get("host") == HOST]
    return found[0] if found else None


async def test_disk_use_is_reported_and_the_disk_rules_fire_and_resolve(monitored: Monitored) -> None:
    admin = monitored.admin_token
    _, token = await monitored.user("disk")
    inst = await create(monitored, token, "redis", maxmemory="16mb", appendonly=True)
    iid = inst["id"]
    conn = inst["connection"]
    client = redis.Redis(
        host=conn["host"], port=conn["port"], username=conn["username"], password=conn["password"]
    )
    await asyncio.to_thread(client.set, "blob", os.urandom(3 * MIB))  # into the AOF, on disk
    client.close()

    # The instance's metrics: the size of <data root>/<id> (3 MiB of AOF and more).
    async def measured() -> bool:
        items = await _metrics(monitored, token, iid)
        return bool(items) and (items[0]["disk_bytes"] or 0) >= 3 * MIB

    assert await wait_until(measured, 10 * COLLECT_INTERVAL + 30, interval=1), await _metrics(
        monitored, token, iid
    )
    disk = (await _metrics(monitored, token, iid))[0]["disk_bytes"]
    assert disk < 64 * MIB  # this directory only, not the data root

    # /metrics: the same figure, and the data root's filesystem as statvfs sees it.
    text = await _prometheus(monitored)
    shown = _gauge(text, "dbvend_instance_disk_bytes", instance_id=iid, engine="redis", host=HOST)
    assert shown is not None
    assert shown >= 3 * MIB
    data_root = monitored.state_dir.parent / "inventory" / "data"
    fs = os.statvfs(data_root)
    total = _gauge(text, "dbvend_host_data_total_bytes", host=HOST)
    free = _gauge(text, "dbvend_host_data_free_bytes", host=HOST)
    assert total == fs.f_blocks * fs.f_frsize
    assert free is not None
    assert 0 < free <= total

    # HostDataRootFilling: 100 % free required -> fires; back to 10 % -> resolves.
    status, rule = await monitored.api.call("GET", "/rules/HostDataRootFilling", admin)
    assert status == 200, rule
    assert rule["threshold"] == 0.1
    assert rule["builtin"] is True
    assert await _host_alert(monitored) is None
    try:
        status, body = await monitored.api.call(
            "PATCH",
            "/rules/HostDataRootFilling",
            admin,
            json={"threshold": 1.0, "for": "0s", "keep_firing_for": "0s"},
        )
        assert status == 200, body

        async def host_firing() -> bool:
            return await _host_alert(monitored, "firing") is not None

        assert await wait_until(host_firing, 6 * COLLECT_INTERVAL + 15, interval=0.5)
        alert = await _host_alert(monitored, "firing")
        assert alert is not None
        assert alert["instance_id"] is None
        assert alert["severity"] == "warning"
        assert 0 < alert["value"] < 1  # the fraction free
        assert "free of" in alert["annotations"]["summary"]
        assert await monitored.alerts(token, rule="HostDataRootFilling") == []  # not the tenant's

        status, body = await monitored.api.call(
            "PATCH", "/rules/HostDataRootFilling", admin, json={"threshold": 0.1}
        )
        assert status == 200, body

        async def host_resolved() -> bool:
            found = await _host_alert(monitored)
            return found is not None and found["status"] == "resolved"

        assert await wait_until(host_resolved, 6 * COLLECT_INTERVAL + 15, interval=0.5)
    finally:
        await monitored.api.call(
            "PATCH",
            "/rules/HostDataRootFilling",
            admin,
            json={"threshold": 0.1, "for": "1m", "keep_firing_for": "5m"},
        )

    # InstanceDiskLarge: a threshold below what the instance uses -> fires, for its owner too.
    status, rule = await monitored.api.call("GET", "/rules/InstanceDiskLarge", admin)
    assert status == 200, rule
    assert rule["params"] == {"metric": "disk_bytes"}
    original = {"threshold": rule["threshold"], "for": rule["for"]}
    try:
        status, body = await monitored.api.call(
            "PATCH", "/rules/InstanceDiskLarge", admin, json={"threshold": MIB, "for": "0s"}
        )
        assert status == 200, body

        async def large() -> bool:
            return await alert_of(monitored, token, iid, "InstanceDiskLarge", "firing") is not None

        assert await wait_until(large, 6 * COLLECT_INTERVAL + 15, interval=0.5)
        found = await alert_of(monitored, token, iid, "InstanceDiskLarge", "firing")
        assert found is not None
        assert found["value"] >= 3 * MIB
        status, body = await monitored.api.call("PATCH", "/rules/InstanceDiskLarge", admin, json=original)
        assert status == 200, body

        async def small() -> bool:
            found = await alert_of(monitored, token, iid, "InstanceDiskLarge")
            return found is not None and found["status"] == "resolved"

        assert await wait_until(small, 6 * COLLECT_INTERVAL + 15, interval=0.5)
    finally:
        await monitored.api.call("PATCH", "/rules/InstanceDiskLarge", admin, json=original)
    await delete(monitored, token, iid)
