"""The warm pool with Redis, end to end: real service process, Docker, PostgreSQL and redis
clients. A create claims a ready slot and answers 201 at once; the tenant connects with the
returned password, sees none of another tenant's keys, gets the settings it asked for, and
keeps its account and settings across a container restart; the slot's own password is dead."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import secrets
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import docker
import pytest
import redis

from service.engines import RekeyFailed, redis_client
from tests.helpers import ROOT, create_database, drop_database, wait_until
from tests.pool.conftest import PoolRig, call, containers_under, start_rig
from tests.ports import port_range

MIB = 1024 * 1024


@pytest.fixture(scope="module")
async def rig(
    tmp_path_factory: pytest.TempPathFactory, docker_client: docker.DockerClient
) -> AsyncIterator[PoolRig]:
    """One rig (a Redis pool of two) for the module: every test starts by waiting for the
    pool to be full again, so what an earlier test claimed or broke has been replaced."""
    url = await create_database()
    root = tmp_path_factory.mktemp("pool-redis")
    made, db = await start_rig(url, root, {"redis": 2})
    try:
        yield made
    finally:
        await made.svc.stop()
        await db.close()
        for container in containers_under(docker_client, root).values():
            container.remove(force=True, v=True)
        await drop_database(url)


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


async def test_a_smaller_size_claims_a_bigger_slot_and_converges_without_a_restart(
    rig: PoolRig, docker_client: docker.DockerClient
) -> None:
    """A 32mb Redis (a 96 MB container) from a slot of the 192 MB class: maxmemory is the
    instance's at once, the container's limit after the converge (Docker's update, same
    container, not restarted), and the quota and the host count 96 MB. Then a direct
    provision.yml run, as ops would do it, changes nothing."""
    ready = await rig.wait_ready(1)
    token = await rig.user()
    before = await instances_mb(rig)
    status, a = await call(
        rig.svc,
        token,
        "POST",
        "/instances",
        json={"engine": "redis", "settings": {"maxmemory": "32mb", "maxclients": 77}},
    )
    assert status == 201, a
    assert a["id"] in {r["id"] for r in ready}
    assert a["memory_mb"] == 96
    blob = await rig.db.fetchval("SELECT secrets FROM instances WHERE id = $1", a["id"])
    assert admin(rig, a["connection"]["port"], blob).config_get("maxmemory") == {"maxmemory": str(32 * MIB)}
    container = docker_client.containers.get(f"dbvend-{a['id']}")
    started = container.attrs["State"]["StartedAt"]
    assert container.attrs["HostConfig"]["Memory"] == 192 * MIB  # the slot's, until the converge

    async def converged() -> bool:
        row = await rig.db.fetchrow(
            "SELECT status, error FROM operations WHERE instance_id = $1 AND kind = 'converge'", a["id"]
        )
        assert row is not None
        assert row["status"] != "failed", row["error"]
        return bool(row["status"] == "succeeded")

    assert await wait_until(converged, 120)
    container.reload()
    assert container.attrs["State"]["StartedAt"] == started
    assert container.id == a["facts"]["container_id"]
    assert container.attrs["HostConfig"]["Memory"] == 96 * MIB
    assert container.attrs["HostConfig"]["MemorySwap"] == 96 * MIB
    assert admin(rig, a["connection"]["port"], blob).config_get("maxmemory") == {"maxmemory": str(32 * MIB)}
    status, me = await call(rig.svc, token, "GET", "/me")
    assert status == 200, me
    assert me["quota"]["memory_mb"]["used"] == 96
    # The host counts the instance's 96 MB (besides its slots' 192 MB each).
    assert await instances_mb(rig) == before + 96
    run = await asyncio.to_thread(provision_as_ops, rig, a["id"])
    assert run.rc == 0, run.output[-3000:]
    assert run.changed() == 0, run.output[-3000:]
    assert client(a["connection"]).ping()


async def instances_mb(rig: PoolRig) -> int:
    """The host's committed memory (GET /hosts) less its pool slots': what its instances
    hold. Read until two answers agree around the slots' sum (the keeper refills meanwhile)."""
    while True:
        first = (await rig.svc.call("GET", "/hosts"))[1]["items"][0]["committed_mb"]
        slots = await rig.db.fetchval(
            "SELECT coalesce(sum(s.memory_mb), 0) FROM port_claims pc JOIN pool_slots s ON s.id = pc.slot_id"
        )
        second = (await rig.svc.call("GET", "/hosts"))[1]["items"][0]["committed_mb"]
        if first == second:
            return int(first) - int(slots)
        await asyncio.sleep(0.2)


def provision_as_ops(rig: PoolRig, instance_id: str) -> Any:
    """playbooks/provision.yml for the instance with its recorded variables."""
    from service.engines import Credentials, get_engine
    from tests.roles.conftest import Run, ansible_env

    row = asyncio.run(_row(rig, instance_id))
    engine = get_engine("redis")
    creds = Credentials.from_secrets(row["username"], rig.instance_secrets(row["secrets"]))
    extravars = {
        "engine": "redis",
        "instance_id": instance_id,
        "port": row["port"],
        **engine.role_vars(engine.load_settings(row["settings"]), creds),
        # The play's own readiness wait logs in as the tenant, as ops' runs do.
        "redis_password": creds.password,
    }
    vars_file = rig.root / f"vars-{instance_id}.json"
    fd = os.open(vars_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(extravars, handle)
    proc = subprocess.run(
        [
            str(Path(sys.executable).parent / "ansible-playbook"),
            "-i",
            str(rig.inventory),
            str(ROOT / "playbooks" / "provision.yml"),
            "-e",
            f"@{vars_file}",
        ],
        env=ansible_env(),
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    return Run(proc.returncode, proc.stdout + proc.stderr)


async def _row(rig: PoolRig, instance_id: str) -> Any:
    from service.db.pool import connect

    conn = await connect(rig.svc.env["DATABASE_URL"])
    try:
        return await conn.fetchrow("SELECT * FROM instances WHERE id = $1", instance_id)
    finally:
        await conn.close()


async def test_a_broken_slot_is_skipped_and_destroyed(
    rig: PoolRig, docker_client: docker.DockerClient
) -> None:
    ready = await rig.wait_ready(2)
    dead = ready[0]["id"]  # the one a claim takes first (oldest ready)
    docker_client.containers.get(f"dbvend-{dead}").kill()
    status, a = await call(rig.svc, await rig.user(), "POST", "/instances", json={"engine": "redis"})
    assert status == 201, a
    assert a["id"] != dead
    assert client(a["connection"]).ping()

    async def destroyed() -> bool:
        row = await rig.db.fetchrow("SELECT status FROM pool_slots WHERE id = $1", dead)
        return row is None and dead not in containers_under(docker_client, rig.root)

    assert await wait_until(destroyed, 120)
    assert await rig.db.fetchval("SELECT count(*) FROM port_claims WHERE slot_id = $1", dead) == 0
    await rig.wait_ready(2)


async def test_deleting_a_claimed_instance_destroys_its_container(
    rig: PoolRig, docker_client: docker.DockerClient
) -> None:
    await rig.wait_ready(2)
    token = await rig.user()
    status, a = await call(rig.svc, token, "POST", "/instances", json={"engine": "redis"})
    assert status == 201, a
    status, body = await call(rig.svc, token, "DELETE", f"/instances/{a['id']}?wait=120")
    assert status == 204, body
    assert a["id"] not in containers_under(docker_client, rig.root)
    assert await rig.db.fetchval("SELECT status FROM pool_slots WHERE id = $1", a["id"]) in ("claimed", None)
    ready = await rig.wait_ready(2)
    assert a["id"] not in {r["id"] for r in ready}


async def test_settings_no_slot_serves_take_the_cold_path(rig: PoolRig) -> None:
    await rig.wait_ready(2)
    status, a = await call(
        rig.svc,
        await rig.user(),
        "POST",
        "/instances?wait=120",
        json={"engine": "redis", "settings": {"maxmemory": "256mb"}},
    )
    assert status == 201, a
    assert await rig.db.fetchval("SELECT count(*) FROM pool_slots WHERE id = $1", a["id"]) == 0
    assert client(a["connection"]).ping()
    # A claimed slot's account has exactly the role's rule (one source: app-acl.rules).
    status, b = await call(rig.svc, await rig.user(), "POST", "/instances", json={"engine": "redis"})
    assert status == 201, b
    rules = []
    for inst in (a, b):
        blob = await rig.db.fetchval("SELECT secrets FROM instances WHERE id = $1", inst["id"])
        user = admin(rig, inst["connection"]["port"], blob).acl_getuser(inst["connection"]["username"])
        rules.append((set(user["commands"]), user["keys"], user["channels"], set(user["flags"])))
    assert rules[0] == rules[1]
    _, text = await call(rig.svc, "", "GET", "/../../metrics")
    assert 'dbvend_pool_fallbacks_total{engine="redis",reason="not_claimable"} 1.0' in text


async def test_an_empty_pool_takes_the_cold_path(pool_database: str, pool_root: Path) -> None:
    """Two creates at once against a pool of one: one claims it (201 at once), the other
    finds the pool empty and is provisioned the cold way (202, then running)."""
    # Its own ports: the module's rig runs beside it.
    rig, db = await start_rig(pool_database, pool_root, {"redis": 1}, ports=port_range("pool.second"))
    try:
        await rig.wait_ready(1)
        token = await rig.user()
        answers = await asyncio.gather(
            *(call(rig.svc, token, "POST", "/instances", json={"engine": "redis"}) for _ in range(2))
        )
        assert sorted(status for status, _ in answers) == [201, 202], answers
        cold = next(body for status, body in answers if status == 202)

        async def running() -> bool:
            st, body = await call(rig.svc, token, "GET", f"/instances/{cold['id']}")
            return st == 200 and body["status"] == "running"

        assert await wait_until(running, 180)
        _, text = await call(rig.svc, "", "GET", "/../../metrics")
        assert 'dbvend_pool_fallbacks_total{engine="redis",reason="empty"} 1.0' in text
    finally:
        await rig.svc.stop()
        await db.close()


async def test_a_failed_rekey_says_what_failed_and_never_a_secret(rig: PoolRig) -> None:
    """The claim's error reaches the log and the slot's broken reason. redis-py annotates a
    pipeline's error reply with the whole command (ACL SETUSER carries the hash); the claim
    names the command by its first two words instead. Made to fail for real, twice: a setting
    the server refuses, and the tenant's AUTH with a password that is not the one whose hash
    the re-key set. A later claim converges the slot again."""
    slot = (await rig.wait_ready(1))[0]
    admin_password = rig.slot_secrets(slot)["admin_password"]
    password = secrets.token_urlsafe(24)
    right_hash, wrong_hash = hashlib.sha256(password.encode()).hexdigest(), hashlib.sha256(b"x").hexdigest()

    async def rekey(password_hash: str, config: dict[str, str]) -> str:
        with pytest.raises(RekeyFailed) as failed:
            await redis_client.rekey(
                "127.0.0.1",
                slot["port"],
                admin_password,
                username="u_probe",
                password=password,
                password_hash=password_hash,
                config=config,
                limit=10,
            )
        message = str(failed.value)
        for secret in (password, password_hash, admin_password):
            assert secret not in message
        return message

    refused = await rekey(right_hash, {"maxmemory": "not-a-size"})
    assert "CONFIG SET: " in refused, refused
    assert "maxmemory" in refused, refused
    assert "invalid username-password pair" in await rekey(wrong_hash, {})
    status, a = await call(rig.svc, await rig.user(), "POST", "/instances", json={"engine": "redis"})
    assert status == 201, a
    assert client(a["connection"]).ping()
