"""Crash safety with the service as a real process: a clean restart keeps instances and
their data; kill -9 in the middle of creations ends, after a restart, with every instance
running or failed with a reason, no container without a row, no row without a container,
and no port claimed twice."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import docker
import pymysql
import pytest
import redis

from tests.e2e.service_process import ServiceProcess, process_tree
from tests.helpers import create_database, drop_database, write_inventory
from tests.ports import port_range


@pytest.fixture
async def own_database() -> AsyncIterator[str]:
    url = await create_database()
    yield url
    await drop_database(url)


@pytest.fixture
def own_inventory(tmp_path: Path, docker_client: docker.DockerClient) -> Iterator[Path]:
    # Its own database, so its own port range: two services must not hand out the same ports.
    yield write_inventory(tmp_path / "inventory", ports=port_range("e2e.crash"))
    # What a failed test left behind goes with it (restart policies would revive it).
    for container in containers_under(docker_client, tmp_path).values():
        container.remove(force=True, v=True)


def containers_under(client: docker.DockerClient, root: Path) -> dict[str, object]:
    found = {}
    for c in client.containers.list(all=True, ignore_removed=True, filters={"label": "dbvend.managed=true"}):
        if any(str(m.get("Source", "")).startswith(str(root)) for m in c.attrs.get("Mounts", [])):
            found[c.labels["dbvend.instance"]] = c
    return found


async def wait_for_operations(db: asyncpg.Pool, seconds: float) -> None:
    for _ in range(int(seconds * 2)):
        if await db.fetchval("SELECT count(*) FROM operations WHERE status IN ('pending', 'running')") == 0:
            return
        await asyncio.sleep(0.5)
    raise AssertionError("operations still open after the restart")


async def test_restart_keeps_instances_and_their_data(
    own_database: str, own_inventory: Path, tmp_path: Path, docker_client: docker.DockerClient
) -> None:
    svc = ServiceProcess(own_database, tmp_path / "state", own_inventory, tmp_path / "service.log")
    await svc.start()
    try:
        status, rd = await svc.call(
            "POST", "/instances?wait=120", json={"engine": "redis", "settings": {"appendonly": True}}
        )
        assert status == 201, rd
        status, my = await svc.call("POST", "/instances?wait=180", json={"engine": "mysql", "name": "keep"})
        assert status == 201, my
        rc, mc = rd["connection"], my["connection"]
        redis.Redis(host=rc["host"], port=rc["port"], username=rc["username"], password=rc["password"]).set(
            "k", "v"
        )
        with (
            pymysql.connect(
                host=mc["host"],
                port=mc["port"],
                user=mc["username"],
                password=mc["password"],
                database=mc["database"],
                autocommit=True,
            ) as conn,
            conn.cursor() as cur,
        ):
            cur.execute("CREATE TABLE t (v varchar(10))")
            cur.execute("INSERT INTO t VALUES ('row')")
        before = {i: c.id for i, c in containers_under(docker_client, tmp_path).items()}  # type: ignore[attr-defined]

        await svc.stop()
        await svc.start()

        for inst in (rd, my):
            status, again = await svc.call("GET", f"/instances/{inst['id']}")
            assert status == 200
            assert again["status"] == "running"
            assert again["connection"]["password"] == inst["connection"]["password"]
        after = {i: c.id for i, c in containers_under(docker_client, tmp_path).items()}  # type: ignore[attr-defined]
        assert after == before  # the restart touched no container
        assert (
            redis.Redis(
                host=rc["host"], port=rc["port"], username=rc["username"], password=rc["password"]
            ).get("k")
            == b"v"
        )
        with (
            pymysql.connect(
                host=mc["host"],
                port=mc["port"],
                user=mc["username"],
                password=mc["password"],
                database=mc["database"],
            ) as conn,
            conn.cursor() as cur,
        ):
            cur.execute("SELECT v FROM t")
            assert cur.fetchall() == (("row",),)
        for inst in (rd, my):
            assert (await svc.call("DELETE", f"/instances/{inst['id']}?wait=60"))[0] == 204
    finally:
        await svc.stop()


async def test_kill_9_in_the_middle_of_creations(
    own_database: str, own_inventory: Path, tmp_path: Path, docker_client: docker.DockerClient
) -> None:
    svc = ServiceProcess(own_database, tmp_path / "state", own_inventory, tmp_path / "service.log")
    db = await asyncpg.create_pool(own_database, min_size=1, max_size=2)
    await svc.start()
    try:
        engines = ["redis", "mysql", "redis", "mysql", "redis", "redis"]
        replies = await asyncio.gather(*(svc.call("POST", "/instances", json={"engine": e}) for e in engines))
        assert [s for s, _ in replies] == [202] * len(engines)
        ids = {b["id"] for _, b in replies}
        # Kill it once Ansible is at work on them: an operation claimed and its play running.
        assert svc.proc is not None
        pid = svc.proc.pid

        def playing() -> bool:
            for child in process_tree(pid)[1:]:
                with contextlib.suppress(OSError):
                    if b"ansible-playbook" in Path(f"/proc/{child}/cmdline").read_bytes():
                        return True
            return False

        for _ in range(600):
            if await db.fetchval("SELECT count(*) FROM operations WHERE status = 'running'") and playing():
                break
            await asyncio.sleep(0.05)
        svc.kill9()

        await svc.start()
        await wait_for_operations(db, 300)

        rows = await db.fetch(
            "SELECT id, status, error, host, port FROM instances WHERE id = ANY($1)", list(ids)
        )
        assert len(rows) == len(ids)
        for row in rows:
            assert row["status"] in ("running", "failed"), dict(row)
            if row["status"] == "failed":
                assert row["error"]
        running = {r["id"] for r in rows if r["status"] == "running"}
        assert running, "no instance survived the crash"
        # No container without a row, no row without its container.
        assert set(containers_under(docker_client, tmp_path)) == running
        # No port claimed twice; failed instances hold none.
        claims = await db.fetch("SELECT instance_id, port FROM port_claims WHERE instance_id IS NOT NULL")
        assert len({c["port"] for c in claims}) == len(claims)
        assert {c["instance_id"] for c in claims} == running
        # No runner directory (and so no secret) was left behind by the killed process. The
        # restarted one may be in the middle of a periodic run (health check, collection).
        runs = tmp_path / "state" / "runs"
        assert svc.proc is not None
        live = f"{svc.proc.pid}-"
        assert not runs.exists() or [d for d in runs.iterdir() if not d.name.startswith(live)] == []
        for iid in running:
            status, inst = await svc.call("GET", f"/instances/{iid}")
            conn = inst["connection"]
            if inst["engine"] == "redis":
                assert redis.Redis(
                    host=conn["host"], port=conn["port"], username=conn["username"], password=conn["password"]
                ).ping()
            else:
                pymysql.connect(
                    host=conn["host"],
                    port=conn["port"],
                    user=conn["username"],
                    password=conn["password"],
                    database=conn["database"],
                ).close()
        for iid in ids:
            status, _ = await svc.call("DELETE", f"/instances/{iid}?wait=120")
            assert status in (204, 404)
        assert containers_under(docker_client, tmp_path) == {}
    finally:
        await svc.stop()
        await db.close()
