"""The fleet testbed itself: hosts reached over SSH, one dockerd each with its own data root,
images loaded by prepare_host.yml (idempotently), published ports reachable from the root
namespace and containers invisible to the other engines."""

from __future__ import annotations

import contextlib
import re
import secrets
import time

import docker
import docker.errors
import pytest
import redis

from tests.fleet.conftest import FLEET_DIR, Fleet


def test_each_host_answers_ssh_in_its_own_namespace(fleet: Fleet) -> None:
    ping = fleet.run("ansible", "dbvend_hosts", "-m", "ansible.builtin.ping").check()
    for host in fleet.hosts:
        assert f"{host.name} | SUCCESS" in ping.output, ping.output

    # The SSH session lands in the host's network namespace: eth0 carries its address.
    command = "ip -4 -o addr show eth0"
    addrs = fleet.run("ansible", "dbvend_hosts", "-m", "ansible.builtin.command", "-a", command).check()
    for host in fleet.hosts:
        pattern = rf"^{host.name} \| CHANGED \| rc=0 >>\n(.*?)(?=^\S+ \| |\Z)"
        block = re.search(pattern, addrs.output, re.M | re.S)
        assert block, addrs.output
        assert f"inet {host.address}/24" in block.group(1)


def test_each_host_has_its_own_dockerd(fleet: Fleet) -> None:
    seen_ids = set()
    for host in fleet.hosts:
        client = fleet.docker(host.name)
        try:
            info = client.info()
        finally:
            client.close()
        assert info["DockerRootDir"] == str(FLEET_DIR / host.name / "docker")
        seen_ids.add(info["ID"])
    default = docker.from_env()
    try:
        info = default.info()
        seen_ids.add(info["ID"])
        assert not info["DockerRootDir"].startswith(str(FLEET_DIR))
    finally:
        default.close()
    assert len(seen_ids) == len(fleet.hosts) + 1, "every engine has its own identity"


def test_prepare_host_loaded_the_images_everywhere(fleet: Fleet) -> None:
    for host in fleet.hosts:
        client = fleet.docker(host.name)
        try:
            for image in fleet.images:
                assert client.images.get(image).tags, f"{image} missing on {host.name}"
        finally:
            client.close()


def test_prepare_host_second_run_changes_nothing(fleet: Fleet) -> None:
    again = fleet.prepare_host().check()
    assert set(again.recap) == {h.name for h in fleet.hosts}, again.output
    for name, counts in again.recap.items():
        assert counts["changed"] == 0, f"{name} changed on the second run:\n{again.output}"
        assert counts["failed"] == counts["unreachable"] == 0


def test_published_port_reaches_root_namespace_and_stays_on_its_host(fleet: Fleet) -> None:
    h1, h2 = fleet.hosts[0], fleet.hosts[1]
    name = f"fleet-probe-{secrets.token_hex(3)}"
    port = 20999  # top of the range: the provisioning tests start at the bottom
    h1_client = fleet.docker(h1.name)
    try:
        container = h1_client.containers.run(
            next(i for i in fleet.images if "redis" in i),
            ["redis-server", "--protected-mode", "no"],
            name=name,
            detach=True,
            ports={"6379/tcp": (h1.address, port)},
        )
        client = redis.Redis(host=h1.address, port=port, socket_timeout=5, socket_connect_timeout=5)
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    assert client.ping()
                    break
                except redis.exceptions.ConnectionError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.2)
            client.set("where", h1.name)
            assert client.get("where") == h1.name.encode()
        finally:
            client.close()

        # The container exists for h1's engine only.
        for other in [docker.from_env(), fleet.docker(h2.name)]:
            try:
                assert other.containers.list(all=True, ignore_removed=True, filters={"name": name}) == []
                with pytest.raises(docker.errors.NotFound):
                    other.containers.get(container.id)
            finally:
                other.close()
    finally:
        with contextlib.suppress(docker.errors.NotFound):
            h1_client.containers.get(name).remove(force=True, v=True)
        h1_client.close()
