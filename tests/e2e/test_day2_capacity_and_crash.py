"""Day-2 actions with the service as a real process: a stopped instance's memory is free
for placement and a start re-checks it (409 no_capacity once it is gone); kill -9 in the
middle of a stop or a start ends, after the restart, with the instance in the requested
or the previous state (never between: its status matches its container) and the
operation saying which."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import docker
import pytest
import redis

from service.engines import get_engine
from tests.e2e.service_process import ServiceProcess
from tests.e2e.test_crash_recovery import containers_under, wait_for_operations
from tests.helpers import create_database, drop_database, secret_box, write_inventory
from tests.ports import port_range

_SMALL = {"maxmemory": "32mb"}


def _redis_mb() -> int:
    engine = get_engine("redis")
    return engine.memory_mb(engine.parse_settings(dict(_SMALL), instance_name="x"))


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


async def test_stopped_memory_is_free_and_start_rechecks_it(
    own_database: str, tmp_path: Path, docker_client: docker.DockerClient, cleanup: None
) -> None:
    # Room for exactly two small Redis instances.
    inventory = write_inventory(
        tmp_path / "inventory", ports=port_range("e2e.capacity"), capacity_mb=2 * _redis_mb()
    )
    svc = ServiceProcess(own_database, tmp_path / "state", inventory, tmp_path / "service.log")
    await svc.start()
    try:
        created = []
        for _ in range(2):
            status, inst = await svc.call(
                "POST", "/instances?wait=120", json={"engine": "redis", "settings": _SMALL}
            )
            assert status == 201, inst
            created.append(inst)
        status, body = await svc.call("POST", "/instances", json={"engine": "redis", "settings": _SMALL})
        assert status == 503, body  # full
        assert body["error"]["code"] == "no_capacity"

        first = created[0]
        status, stopped = await svc.call("POST", f"/instances/{first['id']}/stop?wait=120")
        assert status == 200, stopped
        # The create that did not fit now fits: the stopped instance's memory is free.
        status, third = await svc.call(
            "POST", "/instances?wait=120", json={"engine": "redis", "settings": _SMALL}
        )
        assert status == 201, third

        # ... and so the stopped instance cannot start: 409 no_capacity, nothing recorded.
        status, body = await svc.call("POST", f"/instances/{first['id']}/start")
        assert status == 409, body
        assert body["error"]["code"] == "no_capacity"
        status, again = await svc.call("GET", f"/instances/{first['id']}")
        assert again["status"] == "stopped"

        # Once the memory is back, it starts with its data and password.
        assert (await svc.call("DELETE", f"/instances/{third['id']}?wait=60"))[0] == 204
        status, started = await svc.call("POST", f"/instances/{first['id']}/start?wait=120")
        assert status == 200, started
        assert started["connection"] == first["connection"]
        c = first["connection"]
        assert redis.Redis(
            host=c["host"], port=c["port"], username=c["username"], password=c["password"]
        ).ping()
        for inst in created:
            assert (await svc.call("DELETE", f"/instances/{inst['id']}?wait=60"))[0] == 204
    finally:
        await svc.stop()


async def _kill_mid(svc: ServiceProcess, db: asyncpg.Pool, operation_id: str) -> None:
    """kill -9 once the worker has claimed the operation and Ansible is at work on it."""
    for _ in range(200):
        if await db.fetchval("SELECT status FROM operations WHERE id = $1", operation_id) == "running":
            break
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.8)
    svc.kill9()


@pytest.mark.parametrize("engine", ["redis", "mysql"])
async def test_kill_9_in_the_middle_of_stop_and_start(
    own_database: str, tmp_path: Path, docker_client: docker.DockerClient, cleanup: None, engine: str
) -> None:
    inventory = write_inventory(tmp_path / "inventory", ports=port_range("e2e.day2_crash"))
    svc = ServiceProcess(own_database, tmp_path / "state", inventory, tmp_path / "service.log")
    db = await asyncpg.create_pool(own_database, min_size=1, max_size=2)
    await svc.start()
    try:
        status, inst = await svc.call("POST", "/instances?wait=240", json={"engine": engine})
        assert status == 201, inst
        iid = inst["id"]
        for action, target in (("stop", "stopped"), ("start", "running")):
            status, op = await svc.call("POST", f"/instances/{iid}/{action}")
            assert status == 202, op
            await _kill_mid(svc, db, op["id"])
            await svc.start()
            await wait_for_operations(db, 300)
            row = await db.fetchrow("SELECT status, error, attempts FROM operations WHERE id = $1", op["id"])
            assert row["attempts"] >= 2, dict(row)  # the kill hit it while claimed: claimed again
            status, now = await svc.call("GET", f"/instances/{iid}")
            [container] = containers_under(docker_client, tmp_path).values()
            container.reload()  # type: ignore[attr-defined]
            state = container.status  # type: ignore[attr-defined]
            # The requested state or the previous one, and the container agrees with the row.
            if row["status"] == "succeeded":
                assert now["status"] == target
            else:
                assert row["error"], dict(row)
                assert now["status"] != target
                assert now["status"] in row["error"]  # the operation says where it stays
            assert (state == "running") == (now["status"] == "running"), (state, now["status"])
            if now["status"] != target:  # it failed cleanly: ask again, it must work
                status, now = await svc.call("POST", f"/instances/{iid}/{action}?wait=240")
                assert status == 200, now
        status, now = await svc.call("GET", f"/instances/{iid}")
        assert now["status"] == "running"
        assert now["connection"] == inst["connection"]
        assert now["placement"]["port"] == inst["placement"]["port"]
        assert (await svc.call("DELETE", f"/instances/{iid}?wait=120"))[0] == 204
    finally:
        await svc.stop()
        await db.close()


async def test_a_start_that_fails_for_good_leaves_the_instance_stopped(
    own_database: str, tmp_path: Path, docker_client: docker.DockerClient, cleanup: None
) -> None:
    """The play starts the container but the server never accepts the credentials the row
    holds (made wrong here by hand, with one attempt allowed): the operation fails, and the
    container is stopped again, as the row (still `stopped`) says."""
    inventory = write_inventory(tmp_path / "inventory", ports=port_range("e2e.lifecycle_crash"))
    svc = ServiceProcess(
        own_database,
        tmp_path / "state",
        inventory,
        tmp_path / "service.log",
        DBVEND_READY_TIMEOUT="2",
        DBVEND_MAX_ATTEMPTS="1",
    )
    db = await asyncpg.create_pool(own_database, min_size=1, max_size=2)
    await svc.start()
    try:
        status, inst = await svc.call(
            "POST", "/instances?wait=120", json={"engine": "redis", "settings": _SMALL}
        )
        assert status == 201, inst
        status, stopped = await svc.call("POST", f"/instances/{inst['id']}/stop?wait=120")
        assert status == 200, stopped
        box = secret_box(tmp_path / "state")
        secrets = box.open(await db.fetchval("SELECT secrets FROM instances WHERE id = $1", inst["id"]))
        wrong = box.seal({**secrets, "password": "not-the-password-the-server-has"})
        await db.execute("UPDATE instances SET secrets = $2 WHERE id = $1", inst["id"], wrong)

        status, op = await svc.call("POST", f"/instances/{inst['id']}/start?wait=120")
        assert status == 202, op
        assert op["status"] == "failed"
        assert "stays stopped" in op["error"]
        status, now = await svc.call("GET", f"/instances/{inst['id']}")
        assert now["status"] == "stopped"
        [container] = containers_under(docker_client, tmp_path).values()
        assert container.status == "exited"  # type: ignore[attr-defined]
    finally:
        await svc.stop()
        await db.close()


def _redis_client(conn: dict[str, object]) -> redis.Redis:
    return redis.Redis(
        host=str(conn["host"]),
        port=int(str(conn["port"])),
        username=str(conn["username"]),
        password=str(conn["password"]),
        socket_timeout=5,
    )


async def test_kill_9_in_the_middle_of_restart_reconfigure_and_rotate(
    own_database: str, tmp_path: Path, docker_client: docker.DockerClient, cleanup: None
) -> None:
    """After each kill and restart the row and the server agree: the settings the row holds
    are the ones CONFIG GET shows, the password it holds works and the other one does not,
    and the data written before is there."""
    inventory = write_inventory(tmp_path / "inventory", ports=port_range("e2e.rotate_crash"))
    svc = ServiceProcess(own_database, tmp_path / "state", inventory, tmp_path / "service.log")
    db = await asyncpg.create_pool(own_database, min_size=1, max_size=2)
    await svc.start()
    try:
        status, inst = await svc.call(
            "POST", "/instances?wait=240", json={"engine": "redis", "settings": {**_SMALL, "maxclients": 500}}
        )
        assert status == 201, inst
        iid = inst["id"]
        _redis_client(inst["connection"]).set("kept", "yes")
        actions: list[tuple[str, str, dict[str, object] | None]] = [
            ("POST", f"/instances/{iid}/restart", None),
            ("PATCH", f"/instances/{iid}", {"settings": {"maxclients": 700, "appendfsync": "always"}}),
            ("POST", f"/instances/{iid}/rotate-password", {}),
        ]
        for method, path, body in actions:
            before = (await svc.call("GET", f"/instances/{iid}"))[1]
            status, op = await svc.call(method, path, json=body)
            assert status == 202, op
            await _kill_mid(svc, db, op["id"])
            await svc.start()
            await wait_for_operations(db, 300)
            row = await db.fetchrow("SELECT status, error, attempts FROM operations WHERE id = $1", op["id"])
            assert row["attempts"] >= 2, dict(row)
            status, now = await svc.call("GET", f"/instances/{iid}")
            assert now["status"] == "running", now
            client = _redis_client(now["connection"])
            assert client.get("kept") == b"yes"
            # The settings the row holds are the server's.
            assert client.ping()
            admin_password = secret_box(tmp_path / "state").open(
                await db.fetchval("SELECT secrets FROM instances WHERE id = $1", iid)
            )["admin_password"]
            admin = redis.Redis(
                host="127.0.0.1",
                port=now["placement"]["port"],
                username="dbvend-admin",
                password=admin_password,
            )
            assert admin.config_get("maxclients")["maxclients"] == str(now["settings"]["maxclients"])
            assert admin.config_get("appendfsync")["appendfsync"] == now["settings"]["appendfsync"]
            if row["status"] == "succeeded" and "rotate" in path:
                # The password changed; the old one is refused.
                assert now["connection"]["password"] != before["connection"]["password"]
                with pytest.raises(redis.AuthenticationError):
                    _redis_client(before["connection"]).ping()
            elif row["status"] != "succeeded":
                assert row["error"], dict(row)
                assert "stays running" in row["error"], dict(row)
                assert now["connection"]["password"] == before["connection"]["password"]
        assert (await svc.call("DELETE", f"/instances/{iid}?wait=120"))[0] == 204
    finally:
        await svc.stop()
        await db.close()
