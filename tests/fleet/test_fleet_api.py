"""The fleet through the API: three Docker hosts in network namespaces reached over SSH.
Placement spreads by load, clients connect through each host's address, a host whose link
is cut is marked down and avoided, and comes back up with its instances running."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import redis
from cryptography import x509

from tests.e2e.service_process import ServiceProcess
from tests.fleet.conftest import FLEET_NET, FLEET_TAG, Fleet
from tests.helpers import create_database, drop_database


def link(host: str, state: str) -> None:
    """Cut (down) or restore (up) a host's only link: the root side of its veth."""
    subprocess.run(["ip", "link", "set", f"{FLEET_TAG}-{host}r", state], check=True)


def ping(inst: dict[str, Any], ca: Path | None = None) -> bool:
    """An authenticated PING; with `ca`, over TLS verified against it for the host's address."""
    conn = inst["connection"]
    tls: dict[str, Any] = (
        {"ssl": True, "ssl_ca_certs": str(ca), "ssl_cert_reqs": "required", "ssl_check_hostname": True}
        if ca
        else {}
    )
    client = redis.Redis(
        host=conn["host"],
        port=conn["port"],
        username=conn["username"],
        password=conn["password"],
        socket_timeout=5,
        socket_connect_timeout=5,
        single_connection_client=True,
        **tls,
    )
    try:
        answered = bool(client.ping())
        if ca:  # the certificate names this host's address (and the instance), nothing else
            der = client.connection._sock.getpeercert(binary_form=True)  # type: ignore[union-attr]
            san = x509.load_der_x509_certificate(der).extensions.get_extension_for_class(
                x509.SubjectAlternativeName
            )
            assert [str(n.value) for n in san.value] == [conn["host"], inst["id"]]
        return answered
    finally:
        client.close()


async def hosts_by_name(svc: ServiceProcess) -> dict[str, dict[str, Any]]:
    status, body = await svc.call("GET", "/hosts")
    assert status == 200, body
    return {h["name"]: h for h in body["items"]}


async def wait_host_state(svc: ServiceProcess, host: str, state: str, seconds: float = 90) -> dict[str, Any]:
    for _ in range(int(seconds)):
        current = (await hosts_by_name(svc))[host]
        if current["state"] == state:
            return current
        await asyncio.sleep(1)
    raise AssertionError(f"host {host} never became {state}: {current}")


@pytest.fixture(scope="module")
async def fleet_service(
    fleet: Fleet, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[ServiceProcess]:
    work = tmp_path_factory.mktemp("fleet-service")
    inventory_dir = work / "inventory"
    inventory_dir.mkdir()
    shutil.copy(fleet.inventory, inventory_dir / "hosts.yml")
    shutil.copytree(
        Path(__file__).resolve().parents[2] / "inventory" / "group_vars", inventory_dir / "group_vars"
    )
    url = await create_database()
    svc = ServiceProcess(
        url, work / "state", inventory_dir / "hosts.yml", work / "service.log", DBVEND_HEALTH_INTERVAL="3"
    )
    await svc.start()
    try:
        yield svc
    finally:
        for host in ("h1", "h2", "h3"):
            link(host, "up")
        await svc.stop()
        await drop_database(url)


async def delete_all(svc: ServiceProcess, instances: list[dict[str, Any]]) -> None:
    results = await asyncio.gather(*(svc.call("DELETE", f"/instances/{i['id']}?wait=180") for i in instances))
    assert [s for s, _ in results] == [204] * len(instances), results


def plain_refused_ping(inst: dict[str, Any]) -> bool:
    """A plain client against a TLS-only port: True if it was (wrongly) answered."""
    try:
        return ping(inst)
    except redis.RedisError:
        return False


async def test_hosts_route_lists_the_fleet(fleet_service: ServiceProcess) -> None:
    hosts = await hosts_by_name(fleet_service)
    assert set(hosts) == {"h1", "h2", "h3"}
    for name, host in hosts.items():
        assert host["state"] == "up", host
        assert host["capacity_mb"] == 4096
        assert host["address"] == f"{FLEET_NET}.1{name[1]}"


async def test_six_tls_creates_spread_two_per_host_and_verify_each_hosts_address(
    fleet_service: ServiceProcess, fleet: Fleet, tmp_path: Path
) -> None:
    """With TLS required (the other fleet tests make plain instances): each certificate names
    its own host's address, and clients verify it against the deployment's CA bundle."""
    replies = await asyncio.gather(
        *(
            fleet_service.call(
                "POST", "/instances?wait=240", json={"engine": "redis", "settings": {"tls": "required"}}
            )
            for _ in range(6)
        )
    )
    assert [s for s, _ in replies] == [201] * 6, replies
    instances = [b for _, b in replies]
    assert Counter(i["placement"]["host"] for i in instances) == {"h1": 2, "h2": 2, "h3": 2}
    status, pem = await fleet_service.call("GET", "/tls/ca.pem")
    assert status == 200, pem
    ca = tmp_path / "ca.pem"
    ca.write_text(pem)
    for inst in instances:
        host = fleet.host(inst["placement"]["host"])
        assert inst["connection"]["host"] == host.address
        assert inst["facts"]["address"] == host.address
        assert inst["settings"]["tls"] == "required"
        assert inst["connection"]["tls"]["server_name"] == host.address
        assert inst["connection"]["uri"].startswith("rediss://")
        assert await asyncio.to_thread(ping, inst, ca)
        assert not await asyncio.to_thread(plain_refused_ping, inst)
    # Each container runs on its own host's engine, and only there.
    for host in fleet.hosts:
        client = fleet.docker(host.name)
        try:
            names = {
                c.name
                for c in client.containers.list(ignore_removed=True, filters={"label": "dbvend.managed=true"})
            }
        finally:
            client.close()
        expected = {f"dbvend-{i['id']}" for i in instances if i["placement"]["host"] == host.name}
        assert expected <= names
    await delete_all(fleet_service, instances)


async def test_drained_hosts_get_nothing_new(fleet_service: ServiceProcess) -> None:
    status, body = await fleet_service.call("POST", "/hosts/h1/drain")
    assert status == 200
    assert body["state"] == "draining"
    try:
        replies = await asyncio.gather(
            *(fleet_service.call("POST", "/instances?wait=240", json={"engine": "redis"}) for _ in range(2))
        )
        assert all(s == 201 for s, _ in replies)
        assert {b["placement"]["host"] for _, b in replies} <= {"h2", "h3"}
    finally:
        status, body = await fleet_service.call("POST", "/hosts/h1/undrain")
        assert body["state"] == "up"
    await delete_all(fleet_service, [b for _, b in replies])
    status, _ = await fleet_service.call("POST", "/hosts/nope/drain")
    assert status == 404


async def test_a_host_whose_link_is_cut_is_marked_down_avoided_and_recovers(
    fleet_service: ServiceProcess,
) -> None:
    status, inst = await fleet_service.call("POST", "/instances?wait=240", json={"engine": "redis"})
    assert status == 201
    host = inst["placement"]["host"]
    link(host, "down")
    try:
        down = await wait_host_state(fleet_service, host, "down")
        assert down["reason"]
        status, seen = await fleet_service.call("GET", f"/instances/{inst['id']}")
        assert seen["reachable"] is False
        assert seen["placement"]["host_state"] == "down"
        replies = await asyncio.gather(
            *(fleet_service.call("POST", "/instances?wait=240", json={"engine": "redis"}) for _ in range(3))
        )
        assert all(s == 201 for s, _ in replies), replies
        assert host not in {b["placement"]["host"] for _, b in replies}
    finally:
        link(host, "up")
    await wait_host_state(fleet_service, host, "up")
    status, seen = await fleet_service.call("GET", f"/instances/{inst['id']}")
    assert seen["status"] == "running"
    assert seen["reachable"] is True
    assert await asyncio.to_thread(ping, seen)
    await delete_all(fleet_service, [inst, *[b for _, b in replies]])


async def test_a_create_whose_host_dies_mid_play_moves_and_the_leftovers_are_cleaned(
    fleet_service: ServiceProcess, fleet: Fleet
) -> None:
    # Only h1 may take it, then h1 loses its link before the play reaches it.
    await fleet_service.call("POST", "/hosts/h2/drain")
    await fleet_service.call("POST", "/hosts/h3/drain")
    link("h1", "down")
    try:
        status, inst = await fleet_service.call("POST", "/instances", json={"engine": "redis"})
        assert status == 202
        assert inst["placement"]["host"] == "h1"
        await fleet_service.call("POST", "/hosts/h2/undrain")
        await fleet_service.call("POST", "/hosts/h3/undrain")
        for _ in range(240):
            status, inst = await fleet_service.call("GET", f"/instances/{inst['id']}")
            if inst["status"] != "provisioning":
                break
            await asyncio.sleep(1)
        assert inst["status"] == "running", inst
        assert inst["placement"]["host"] in ("h2", "h3")
        assert await asyncio.to_thread(ping, inst)
    finally:
        link("h1", "up")
        await fleet_service.call("POST", "/hosts/h2/undrain")
        await fleet_service.call("POST", "/hosts/h3/undrain")
    await wait_host_state(fleet_service, "h1", "up")
    # The deferred cleanup ran on h1: nothing of the instance is left there.
    client = fleet.docker("h1")
    try:
        for _ in range(60):
            leftovers = client.containers.list(
                all=True, ignore_removed=True, filters={"label": f"dbvend.instance={inst['id']}"}
            )
            if not leftovers and not Path(fleet.host("h1").data_root, inst["id"]).exists():
                break
            await asyncio.sleep(1)
        assert leftovers == []
    finally:
        client.close()
    await delete_all(fleet_service, [inst])


def _client(inst: dict[str, Any]) -> redis.Redis:
    conn = inst["connection"]
    return redis.Redis(
        host=conn["host"],
        port=conn["port"],
        username=conn["username"],
        password=conn["password"],
        socket_timeout=5,
        socket_connect_timeout=5,
    )


async def test_day2_actions_over_ssh_keep_the_data_and_move_the_limits(
    fleet_service: ServiceProcess, fleet: Fleet
) -> None:
    """Stop, start, a live PATCH and a rotation on an instance of a remote host: the plays
    run over SSH against that host's engine, the data stays, the memory limit moves in
    place, and the new password is the one that works."""
    status, inst = await fleet_service.call(
        "POST", "/instances?wait=240", json={"engine": "redis", "settings": {"maxmemory": "32mb"}}
    )
    assert status == 201, inst
    iid, host = inst["id"], inst["placement"]["host"]
    await asyncio.to_thread(_client(inst).set, "kept", "yes")
    docker_client = fleet.docker(host)
    try:
        before = docker_client.containers.get(f"dbvend-{iid}")
        for action, target in (("stop", "stopped"), ("start", "running")):
            status, body = await fleet_service.call("POST", f"/instances/{iid}/{action}?wait=180")
            assert status == 200, body
            assert body["status"] == target
        status, body = await fleet_service.call(
            "PATCH", f"/instances/{iid}?wait=180", json={"settings": {"maxmemory": "96mb"}}
        )
        assert status == 200, body
        assert body["changes"]["live"] == ["maxmemory"]
        after = docker_client.containers.get(f"dbvend-{iid}")
        assert after.id == before.id
        assert after.attrs["HostConfig"]["Memory"] == body["memory_mb"] * 1024 * 1024
        status, rotated = await fleet_service.call(
            "POST", f"/instances/{iid}/rotate-password?wait=180", json={}
        )
        assert status == 200, rotated
        assert await asyncio.to_thread(_client(rotated).get, "kept") == b"yes"
        with pytest.raises(redis.AuthenticationError):
            await asyncio.to_thread(_client(inst).ping)
    finally:
        docker_client.close()
    await delete_all(fleet_service, [inst])
