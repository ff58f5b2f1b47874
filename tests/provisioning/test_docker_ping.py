"""Host health of a local host asks its Docker socket directly (no ansible-playbook run):
the answer is the engine's version, a socket that is not there is a reason, and only a
host Ansible reaches locally through a plain unix socket qualifies."""

from __future__ import annotations

from pathlib import Path

import asyncpg
import docker

from service.fleet import docker_ping
from service.fleet.health import HostMonitor
from service.inventory import DockerHost
from service.operations.runner import PlaybookRunner
from tests.helpers import Api


def test_which_hosts_are_asked_directly() -> None:
    assert docker_ping.local_socket({"ansible_connection": "local"}) == "/var/run/docker.sock"
    local = {"ansible_connection": "local", "dbvend_docker_host": "unix:///run/x/docker.sock"}
    assert docker_ping.local_socket(local) == "/run/x/docker.sock"
    assert docker_ping.local_socket({"ansible_connection": "ssh"}) is None
    assert docker_ping.local_socket({"dbvend_docker_host": "unix:///var/run/docker.sock"}) is None
    tcp = {"ansible_connection": "local", "dbvend_docker_host": "tcp://127.0.0.1:2375"}
    assert docker_ping.local_socket(tcp) is None
    templated = {"ansible_connection": "local", "dbvend_docker_host": "unix://{{ sock }}"}
    assert docker_ping.local_socket(templated) is None


async def test_the_socket_answers_with_the_engine_version(docker_client: docker.DockerClient) -> None:
    answer = await docker_ping.ask("/var/run/docker.sock")
    assert answer.ok, answer
    assert answer.server_version == docker_client.version()["Version"]
    gone = await docker_ping.ask("/nonexistent/docker.sock", limit=2)
    assert not gone.ok
    assert gone.error
    assert "/nonexistent/docker.sock" in gone.error


async def test_a_local_host_is_checked_without_ansible(
    service: Api, db: asyncpg.Pool, tmp_path: Path
) -> None:
    # A runner with no playbooks: any Ansible run would fail and mark the host down.
    runner = PlaybookRunner(tmp_path / "no-project", tmp_path / "runs")
    host = DockerHost("local", "127.0.0.1", 1024, 1025, 1024, str(tmp_path), {"ansible_connection": "local"})
    monitor = HostMonitor(db, runner, lambda: {"local": host}, owner="test", interval=15)
    assert await monitor.check_once() == {"local": True}
    row = await db.fetchrow("SELECT state, server_version FROM hosts WHERE name = 'local'")
    assert row["state"] == "up"
    assert row["server_version"]
