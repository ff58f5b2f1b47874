"""playbooks/provision.yml and deprovision.yml run directly (as ops do) against the fleet over
SSH: one Redis per host, ports and passwords left to the role's defaults, reached with a real
client through the host's address from the root namespace, then removed."""

from __future__ import annotations

import secrets
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import docker
import docker.errors
import pytest
import redis

from tests.fleet.conftest import Fleet, FleetHost, Run


def provision(
    fleet: Fleet, host: FleetHost, instance_id: str, secrets_dir: Path
) -> tuple[Run, dict[str, Any]]:
    return fleet.playbook_json(
        "playbooks/provision.yml",
        "--limit",
        host.name,
        "-e",
        "engine=redis",
        "-e",
        f"instance_id={instance_id}",
        "-e",
        f"dbvend_secrets_dir={secrets_dir}",
    )


def deprovision(fleet: Fleet, host: FleetHost, instance_id: str, secrets_dir: Path) -> Run:
    return fleet.run(
        "ansible-playbook",
        "playbooks/deprovision.yml",
        "--limit",
        host.name,
        "-e",
        f"instance_id={instance_id}",
        "-e",
        f"dbvend_secrets_dir={secrets_dir}",
    )


def test_one_redis_per_host_over_ssh(fleet: Fleet, tmp_path: Path) -> None:
    secrets_dir = tmp_path / "secrets"
    ids = {host.name: f"fleet-{host.name}-{secrets.token_hex(3)}" for host in fleet.hosts}
    try:
        # One ansible-playbook per host, at the same time, as ops would run them.
        with ThreadPoolExecutor(max_workers=len(fleet.hosts)) as pool:
            runs = dict(
                zip(
                    fleet.hosts,
                    pool.map(lambda h: provision(fleet, h, ids[h.name], secrets_dir), fleet.hosts),
                    strict=True,
                )
            )

        for host, (run, data) in runs.items():
            run.check()
            instance_id = ids[host.name]
            facts = data["global_custom_stats"]["dbvend_instances"][instance_id]
            assert facts["host"] == host.name
            assert facts["address"] == host.address
            assert facts["engine"] == "redis"
            port = int(facts["port"])
            assert 20000 <= port <= 20999

            # The container runs on this host's dockerd, published on the host's address.
            client = fleet.docker(host.name)
            try:
                container = client.containers.get(f"dbvend-{instance_id}")
                assert container.id == facts["container_id"]
                binding = container.attrs["HostConfig"]["PortBindings"]["6379/tcp"][0]
                assert (binding["HostIp"], int(binding["HostPort"])) == (host.address, port)
                assert container.labels["dbvend.instance"] == instance_id
            finally:
                client.close()
            data_dir = Path(host.data_root) / instance_id / "data"
            assert data_dir.is_dir(), "the instance's data lives under the host's data root"

            # A real client, from the root namespace, through the host's address.
            password = (secrets_dir / instance_id / "redis_password").read_text().strip()
            conn = redis.Redis(
                host=host.address, port=port, username="app", password=password, socket_timeout=10
            )
            try:
                conn.set("placed-on", host.name)
                assert conn.get("placed-on") == host.name.encode()
                with pytest.raises(redis.exceptions.NoPermissionError):
                    conn.config_get("maxmemory")
            finally:
                conn.close()

        # Nothing of these instances reached the default engine.
        default = docker.from_env()
        try:
            for instance_id in ids.values():
                assert (
                    default.containers.list(
                        all=True, ignore_removed=True, filters={"name": f"dbvend-{instance_id}"}
                    )
                    == []
                )
        finally:
            default.close()
    finally:
        with ThreadPoolExecutor(max_workers=len(fleet.hosts)) as pool:
            removed = list(pool.map(lambda h: deprovision(fleet, h, ids[h.name], secrets_dir), fleet.hosts))

    for host, run in zip(fleet.hosts, removed, strict=True):
        run.check()
        client = fleet.docker(host.name)
        try:
            with pytest.raises(docker.errors.NotFound):
                client.containers.get(f"dbvend-{ids[host.name]}")
        finally:
            client.close()
        assert not (Path(host.data_root) / ids[host.name]).exists()
        assert not (secrets_dir / ids[host.name]).exists()


def test_provision_is_idempotent_over_ssh(fleet: Fleet, tmp_path: Path) -> None:
    host = fleet.hosts[-1]
    instance_id = f"fleet-idem-{secrets.token_hex(3)}"
    try:
        first, _ = provision(fleet, host, instance_id, tmp_path)
        first.check()
        again = fleet.run(
            "ansible-playbook",
            "playbooks/provision.yml",
            "--limit",
            host.name,
            "-e",
            "engine=redis",
            "-e",
            f"instance_id={instance_id}",
            "-e",
            f"dbvend_secrets_dir={tmp_path}",
        ).check()
        assert again.recap[host.name]["changed"] == 0, again.output
    finally:
        removed = deprovision(fleet, host, instance_id, tmp_path)
    removed.check()
