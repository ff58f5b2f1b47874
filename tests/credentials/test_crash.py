"""kill -9 of the service in the middle of a bind and of an unbind: after the restart the
operation was claimed again and the credential's row and the server agree (active and
working, or failed and then bound again on request; removed and refused)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import docker
import pytest
import redis

from tests.e2e.service_process import ServiceProcess
from tests.e2e.test_crash_recovery import containers_under, wait_for_operations
from tests.e2e.test_day2_capacity_and_crash import _kill_mid
from tests.helpers import create_database, drop_database, write_inventory
from tests.ports import port_range


@pytest.fixture
async def own_database() -> AsyncIterator[str]:
    url = await create_database()
    yield url
    await drop_database(url)


@pytest.fixture
def cleanup(tmp_path: Path, docker_client: docker.DockerClient) -> Iterator[None]:
    yield
    for container in containers_under(docker_client, tmp_path).values():
        container.remove(force=True, v=True)  # type: ignore[attr-defined]


def _client(c: dict[str, Any]) -> redis.Redis:
    return redis.Redis(
        host=c["host"], port=c["port"], username=c["username"], password=c["password"], socket_timeout=5
    )


@pytest.mark.slow
async def test_kill_9_in_the_middle_of_bind_and_unbind(
    own_database: str, tmp_path: Path, cleanup: None
) -> None:
    inventory = write_inventory(tmp_path / "inventory", ports=port_range("credentials.crash"))
    svc = ServiceProcess(own_database, tmp_path / "state", inventory, tmp_path / "service.log")
    db = await asyncpg.create_pool(own_database, min_size=1, max_size=2)
    await svc.start()
    try:
        status, inst = await svc.call("POST", "/instances?wait=240", json={"engine": "redis"})
        assert status == 201, inst
        base = f"/instances/{inst['id']}/credentials"

        status, cred = await svc.call("POST", base, json={"name": "crash"})
        assert status == 202, cred
        await _kill_mid(svc, db, cred["operation_id"])
        await svc.start()
        await wait_for_operations(db, 300)
        row = await db.fetchrow("SELECT status, attempts FROM operations WHERE id = $1", cred["operation_id"])
        assert row["attempts"] >= 2, dict(row)
        status, now = await svc.call("GET", f"{base}/crash")
        assert status == 200, now
        if now["status"] != "active":
            assert now["status"] == "failed", now
            assert now["error"], now
            status, now = await svc.call("POST", f"{base}?wait=120", json={"name": "crash"})
            assert status == 201, now
        assert _client(now["connection"]).ping()
        connection = now["connection"]

        status, op = await svc.call("DELETE", f"{base}/crash")
        assert status == 202, op
        await _kill_mid(svc, db, op["id"])
        await svc.start()
        await wait_for_operations(db, 300)
        status, after = await svc.call("GET", f"{base}/crash")
        if status == 200:  # the unbind failed for good: asking again removes it
            assert after["status"] == "failed", after
            assert (await svc.call("DELETE", f"{base}/crash?wait=120"))[0] == 204
        assert (await svc.call("GET", f"{base}/crash"))[0] == 404
        with pytest.raises(redis.exceptions.AuthenticationError):
            _client(connection).ping()
        assert _client(inst["connection"]).ping()
        assert (await svc.call("DELETE", f"/instances/{inst['id']}?wait=120"))[0] == 204
    finally:
        await svc.stop()
        await db.close()
