"""The warm pool with Redis, end to end: real service process, Docker, PostgreSQL and redis
clients. A create claims a ready slot and answers 201 at once; the tenant connects with the
returned password, sees none of another tenant's keys, gets the settings it asked for, and
keeps its account and settings across a container restart; the slot's own password is dead."""

from __future__ import annotations

from typing import Any

import docker
import pytest
import redis

from tests.helpers import wait_until
from tests.pool.conftest import PoolRig, call


def client(conn: dict[str, Any], **kw: Any) -> redis.Redis:
    return redis.Redis(
        host=conn["host"],
        port=conn["port"],
        username=conn["username"],
        password=conn["password"],
        socket_timeout=5,
        **kw,
    )


def admin(rig: PoolRig, port: int, blob: bytes) -> redis.Redis:
    password = rig.instance_secrets(blob)["admin_password"]
    return redis.Redis(
        host="127.0.0.1", port=port, username="dbvend-admin", password=password, socket_timeout=5
    )


async def test_claim_answers_201_and_rekeys_the_slot(
    rig: PoolRig, docker_client: docker.DockerClient
) -> None:
    ready = await rig.wait_ready(2)
    # Slots count as committed memory on their host.
    status, hosts = await rig.svc.call("GET", "/hosts")
    assert status == 200, hosts
    assert hosts["items"][0]["committed_mb"] >= 2 * 192
    old = {r["id"]: rig.slot_secrets(r) for r in ready}
    slot_users = {r["id"]: slot_username(rig, r["id"]) for r in ready}

    alice, bob = await rig.user(), await rig.user()
    status, a = await call(
        rig.svc,
        alice,
        "POST",
        "/instances",
        json={"engine": "redis", "settings": {"maxmemory_policy": "allkeys-lru", "maxclients": 321}},
    )
    assert status == 201, a
    assert a["status"] == "running"
    assert a["id"] in old
    assert a["facts"]["server_version"]
    ca = a["connection"]
    client(ca).set("secret-of-alice", "1")

    status, b = await call(rig.svc, bob, "POST", "/instances", json={"engine": "redis"})
    assert status == 201, b
    assert b["id"] in old
    assert b["id"] != a["id"]
    assert b["connection"]["port"] != ca["port"]
    cb = b["connection"]
    assert client(cb).keys("*") == []
    with pytest.raises(redis.AuthenticationError):
        client({**cb, "username": ca["username"], "password": ca["password"]}).ping()

    blob = await rig.db.fetchval("SELECT secrets FROM instances WHERE id = $1", a["id"])
    adm = admin(rig, ca["port"], blob)
    assert adm.config_get("maxmemory-policy") == {"maxmemory-policy": "allkeys-lru"}
    assert adm.config_get("maxclients") == {"maxclients": "321"}
    users = set(adm.acl_users())
    assert users - {"default", "dbvend-admin", "dbvend-local"} == {ca["username"]}

    # A restart keeps the new account and settings (ACL SAVE + CONFIG REWRITE) and not the slot's.
    slot_pw = old[a["id"]]["password"]
    docker_client.containers.get(f"dbvend-{a['id']}").restart(timeout=5)

    async def back() -> bool:
        try:
            return bool(client(ca).ping())
        except redis.RedisError:
            return False

    assert await wait_until(back, 30)
    assert client(ca).get("secret-of-alice") in (b"1", None)
    assert admin(rig, ca["port"], blob).config_get("maxclients") == {"maxclients": "321"}
    slot_user = slot_users[a["id"]]
    with pytest.raises(redis.AuthenticationError):
        client({**ca, "username": slot_user, "password": slot_pw}).ping()

    # The create is recorded as succeeded from the pool; a converge follows.
    ops = await rig.db.fetch("SELECT kind, status, params FROM operations WHERE instance_id = $1", a["id"])
    kinds = {o["kind"]: o for o in ops}
    assert kinds["create"]["status"] == "succeeded"
    assert kinds["create"]["params"]["pool_slot"] == a["id"]
    assert "converge" in kinds

    # The keeper refills the pool to its size.
    await rig.wait_ready(2, seconds=120)

    status, text = await call(rig.svc, "", "GET", "/../../metrics")  # /metrics, outside /api/v1
    assert status == 200
    assert "dbvend_pool_slots{" in text
    assert "dbvend_pool_claim_seconds_count" in text


def slot_username(rig: PoolRig, slot_id: str) -> str:
    """The slot's throwaway application account, from the users.acl the role wrote."""
    acl = (rig.inventory.parent / "data" / slot_id / "config" / "users.acl").read_text()
    names = [line.split()[1] for line in acl.splitlines() if line.startswith("user ")]
    return next(n for n in names if n.startswith("u_"))
