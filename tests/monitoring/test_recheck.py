"""InstanceDown between rounds (service/monitoring/monitor.py): an instance a round finds
down is probed again every RECHECK_SECONDS until the next round, and the built-in rule
(for: 10 s since migration 0027) fires from those rechecks, so an outage is alerted within
30 s at the production interval rather than two rounds after it was first seen.

A service of its own with a 20 s round interval (longer than a recheck's 4 s, so the
rechecks, not a round, must do it), real Redis servers, `docker pause` for a hung server:

- the paused instance's alert fires with no round in between: no sample of it is written
  after it went pending and up to its firing, and it fired after the rule's 10 s;
- a second paused instance unpaused before its alert fired has its pending alert dropped
  by a recheck, again before any round (a recheck clears what it re-probed, nothing else:
  the first instance's alert is still there)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import docker
import pytest

from tests.helpers import own_service, wait_until
from tests.monitoring.conftest import Monitored
from tests.monitoring.test_instances import create, delete
from tests.ports import port_range

INTERVAL = 20


@pytest.fixture(scope="module")
async def slow_rounds(session_dir: Path) -> AsyncIterator[Monitored]:
    work = session_dir / "recheck"
    async with own_service(
        work,
        port_range("monitoring.recheck"),
        DBVEND_COLLECT_INTERVAL=str(INTERVAL),
        DBVEND_ALERT_EVAL_INTERVAL="1",
    ) as svc:
        yield Monitored(svc.api, svc.app, svc.db, work / "state", svc.admin_token, svc.port)


async def _alert(m: Monitored, iid: str) -> dict[str, object] | None:
    row = await m.db.fetchrow(
        "SELECT status, pending_since, starts_at FROM alerts"
        " WHERE instance_id = $1 AND rule = 'InstanceDown' ORDER BY id DESC LIMIT 1",
        iid,
    )
    return dict(row) if row is not None else None


async def _samples_between(m: Monitored, iid: str, after: object, until: object) -> int:
    return int(
        await m.db.fetchval(
            "SELECT count(*) FROM samples WHERE instance_id = $1 AND at > $2 AND at <= $3",
            iid,
            after,
            until,
        )
    )


async def test_instance_down_fires_from_rechecks_between_rounds(
    slow_rounds: Monitored, docker_client: docker.DockerClient
) -> None:
    m = slow_rounds
    token = m.admin_token
    rule_for = await m.db.fetchval("SELECT for_seconds FROM rules WHERE name = 'InstanceDown'")
    assert rule_for == 10
    hung = (await create(m, token, "redis", maxmemory="8mb"))["id"]
    back = (await create(m, token, "redis", maxmemory="8mb"))["id"]
    containers = [docker_client.containers.get(f"dbvend-{iid}") for iid in (hung, back)]
    for container in containers:
        await asyncio.to_thread(container.pause)
    try:

        async def both_open() -> bool:
            found = [await _alert(m, iid) for iid in (hung, back)]
            return all(a is not None and a["status"] in ("pending", "firing") for a in found)

        # The first round after the pause sees both down.
        assert await wait_until(both_open, INTERVAL + 15, interval=0.2)
        seen = await _alert(m, back)
        assert seen is not None
        assert seen["status"] == "pending", seen
        await asyncio.to_thread(containers[1].unpause)

        async def dropped() -> bool:
            return await _alert(m, back) is None  # a pending alert that never fired is deleted

        assert await wait_until(dropped, INTERVAL, interval=0.2)
        now = await m.db.fetchval("SELECT now()")
        assert await _samples_between(m, back, seen["pending_since"], now) == 0, "dropped by a round"

        async def fired() -> bool:
            alert = await _alert(m, hung)
            return alert is not None and alert["status"] == "firing"

        assert await wait_until(fired, INTERVAL + 5, interval=0.2)
        alert = await _alert(m, hung)
        assert alert is not None
        pending_since, starts_at = alert["pending_since"], alert["starts_at"]
        held = (starts_at - pending_since).total_seconds()  # type: ignore[operator]
        assert 10 <= held < INTERVAL, alert
        assert await _samples_between(m, hung, pending_since, starts_at) == 0, alert
    finally:
        for container in containers:
            container.reload()
            if container.status == "paused":
                await asyncio.to_thread(container.unpause)
    for iid in (hung, back):
        await delete(m, token, iid)
