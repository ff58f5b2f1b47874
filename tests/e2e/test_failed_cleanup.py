"""No leaks on failed cleanup, with a real service process, PostgreSQL and Docker.

A delete whose host has left the inventory is refused (409 naming the host). A delete whose
deprovision fails for real (the host's Ansible connection goes to a closed SSH port) keeps
the port claim and the host's committed memory until the container is really gone: when the
host answers again the background cleanup removes the container and only then frees both."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import asyncpg
import docker
import yaml

from tests.e2e.service_process import ServiceProcess, free_port
from tests.e2e.test_crash_recovery import containers_under, own_database, own_inventory

__all__ = ["own_database", "own_inventory"]  # fixtures


def _rewrite(inventory: Path, change: Any) -> None:
    doc = yaml.safe_load(inventory.read_text())
    hosts = doc["all"]["children"]["dbvend_hosts"]["hosts"]
    change(hosts)
    inventory.write_text(yaml.safe_dump(doc))


async def _host(svc: ServiceProcess, name: str) -> dict[str, Any]:
    status, body = await svc.call("GET", "/hosts")
    assert status == 200, body
    found: dict[str, Any] = next(h for h in body["items"] if h["name"] == name)
    return found


async def test_a_failed_cleanup_keeps_the_port_and_memory_until_the_container_is_gone(
    own_database: str, own_inventory: Path, tmp_path: Path, docker_client: docker.DockerClient
) -> None:
    original = own_inventory.read_text()
    local = yaml.safe_load(original)["all"]["children"]["dbvend_hosts"]["hosts"]["local"]
    closed_port = free_port()  # nothing listens there
    unreachable = {
        **local,
        "ansible_connection": "ssh",
        "ansible_host": "127.0.0.1",
        "ansible_port": closed_port,
        "ansible_user": "nobody",
        "ansible_ssh_common_args": "-o StrictHostKeyChecking=no -o ConnectTimeout=5",
    }
    svc = ServiceProcess(
        own_database,
        tmp_path / "state",
        own_inventory,
        tmp_path / "service.log",
        DBVEND_HEALTH_INTERVAL="2",
        DBVEND_COLLECT_INTERVAL="0",
    )
    db = await asyncpg.create_pool(own_database, min_size=1, max_size=2)
    await svc.start()
    try:
        status, inst = await svc.call("POST", "/instances?wait=120", json={"engine": "redis"})
        assert status == 201, inst
        iid, memory = inst["id"], (await _host(svc, "local"))["committed_mb"]
        assert memory > 0

        # 1. The host leaves the inventory: the delete is refused, nothing changes.
        _rewrite(own_inventory, lambda hosts: hosts.update({"spare": unreachable}) or hosts.pop("local"))
        assert (await svc.call("POST", "/hosts/reload"))[0] == 200
        status, body = await svc.call("DELETE", f"/instances/{iid}")
        assert status == 409, body
        assert body["error"]["code"] == "conflict"
        assert "'local'" in body["error"]["message"]
        status, again = await svc.call("GET", f"/instances/{iid}")
        assert status == 200
        assert again["status"] == "running"
        assert await db.fetchval("SELECT count(*) FROM port_claims WHERE instance_id = $1", iid) == 1

        # 2. The host is back but unreachable: the deprovision fails for real.
        own_inventory.write_text(original)
        _rewrite(own_inventory, lambda hosts: hosts.update({"local": unreachable}))
        assert (await svc.call("POST", "/hosts/reload"))[0] == 200
        # A health round in flight at the reload still reaches the host the old way (and
        # would really remove the container); rounds run one after another, so once one
        # finds the host down, every later round uses the unreachable definition.
        for _ in range(120):
            if (await _host(svc, "local"))["health"] == "down":
                break
            await asyncio.sleep(0.5)
        else:
            raise AssertionError("the unreachable host was never seen down")
        status, _ = await svc.call("DELETE", f"/instances/{iid}?wait=120")
        assert status == 204
        assert (await svc.call("GET", f"/instances/{iid}"))[0] == 404  # deleted for its user
        assert iid in containers_under(docker_client, tmp_path)  # but the container is there
        assert await db.fetchval("SELECT count(*) FROM port_claims WHERE instance_id = $1", iid) == 1
        host = await _host(svc, "local")
        assert host["committed_mb"] == memory, host
        assert host["cleanups_pending"] == 1, host
        # Health rounds keep failing while it is unreachable (two more of them): still held.
        checked = await db.fetchval("SELECT last_check FROM hosts WHERE name = 'local'")
        for _ in range(2):
            for _ in range(240):
                now = await db.fetchval("SELECT last_check FROM hosts WHERE name = 'local'")
                if now > checked:
                    checked = now
                    break
                await asyncio.sleep(0.25)
            else:
                raise AssertionError("no health round ended")
        assert await db.fetchval("SELECT count(*) FROM port_claims WHERE instance_id = $1", iid) == 1
        assert (await _host(svc, "local"))["committed_mb"] == memory

        # 3. The host answers again: the background cleanup removes the container, then frees both.
        own_inventory.write_text(original)
        assert (await svc.call("POST", "/hosts/reload"))[0] == 200
        for _ in range(240):
            if not await db.fetchval("SELECT count(*) FROM port_claims WHERE instance_id = $1", iid):
                break
            await asyncio.sleep(0.5)
        else:
            raise AssertionError("the port claim was never released")
        assert iid not in containers_under(docker_client, tmp_path)
        host = await _host(svc, "local")
        assert host["committed_mb"] == 0, host
        assert host["cleanups_pending"] == 0, host
    finally:
        own_inventory.write_text(original)
        await svc.stop()
        await db.close()
