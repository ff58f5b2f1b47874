"""playbooks/provision.yml and deprovision.yml the ways they are called: ops' direct run
(no port, no passwords), the service's instance-per-host inventory through ansible-runner
(facts of several instances from set_stats), a port already in use, and input checks."""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import ansible_runner
import pymysql
import pytest
import redis
import yaml

from tests.roles.conftest import (
    MYSQL_IMAGE,
    REDIS_IMAGE,
    ROOT,
    Deployer,
    ansible_env,
    host_vars,
    password,
    port_is_free,
)


@pytest.fixture
def listener() -> Iterator[Any]:
    """Listens on a port of the test range, like some other program would."""
    sockets: list[socket.socket] = []

    def listen(port: int) -> socket.socket:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sockets.append(sock)  # closed even when bind fails: a leak fails a later test
        # As servers do: an earlier test's TIME_WAIT leftovers on the port do not stop it.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))
        sock.listen()
        return sock

    yield listen
    for sock in sockets:
        sock.close()


def test_direct_run_picks_a_port_and_passwords_and_reruns_unchanged(
    deployer: Deployer, listener: Any
) -> None:
    """Ops' form: `ansible-playbook -i inventory/hosts.yml playbooks/provision.yml
    -e engine=redis -e instance_id=demo`, with no port and no passwords."""
    instance_id = deployer.new_id("ops")
    busy = deployer.free_port()
    listener(busy)  # the lowest free port is taken by something else: the role skips it
    expected = deployer.free_port()

    first = deployer.provision("redis", instance_id, "-vvv")
    assert first.changed() > 0
    container = deployer.container(instance_id)
    assert container.labels["dbvend.port"] == str(expected)
    assert container.attrs["HostConfig"]["PortBindings"]["6379/tcp"][0]["HostPort"] == str(expected)

    # Passwords were generated on the controller, kept per instance, and work.
    secrets_dir = deployer.tmp / "secrets" / instance_id
    app_password = (secrets_dir / "redis_password").read_text().strip()
    admin_password = (secrets_dir / "redis_admin_password").read_text().strip()
    assert len(app_password) >= 32
    assert oct(secrets_dir.stat().st_mode & 0o777) == "0o700"
    app = redis.Redis(
        host="127.0.0.1", port=expected, username="app", password=app_password, socket_timeout=10
    )
    assert app.ping()
    admin = redis.Redis(
        host="127.0.0.1", port=expected, username="dbvend-admin", password=admin_password, socket_timeout=10
    )
    assert admin.config_get("maxmemory") == {"maxmemory": "134217728"}
    for value in (app_password, admin_password):
        assert value not in first.output

    # The re-run keeps the port (the container's) and the passwords: nothing changes.
    second = deployer.provision("redis", instance_id)
    assert second.changed() == 0, second.output[-3000:]
    assert deployer.container(instance_id).id == container.id


@pytest.mark.parametrize("listening", [True, False], ids=["listening", "bound-only"])
def test_port_in_use_fails_with_a_message_the_service_reads(
    deployer: Deployer, listener: Any, listening: bool
) -> None:
    """A listener is caught before the container is made; a socket that is only bound
    (invisible to that check, like a race) makes Docker fail: same message, no container."""
    instance_id = deployer.new_id("busy")
    # The bound-only socket binds as Docker would, without SO_REUSEADDR.
    port = deployer.free_port(strict=not listening)
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as held:
        if listening:
            listener(port)
        else:
            held.bind(("127.0.0.1", port))
        run = deployer.playbook(
            "provision.yml",
            {"engine": "redis", "instance_id": instance_id, "port": port, "redis_password": password()},
        )
    assert run.rc != 0
    assert f'"msg": "DBVEND_PORT_IN_USE:{port} ' in run.output
    assert ("TASK [redis : Run the container]" in run.output) is not listening
    assert not deployer.docker.containers.list(
        all=True, ignore_removed=True, filters={"name": f"dbvend-{instance_id}"}
    )
    assert not (deployer.tmp / "data" / instance_id / "data").exists()


@pytest.mark.parametrize(
    ("extravars", "message"),
    [
        ({"instance_id": "t-x"}, "engine must be mysql or redis, got nothing"),
        ({"engine": "postgres", "instance_id": "t-x"}, "engine must be mysql or redis, got postgres"),
        ({"engine": "redis", "instance_id": "Bad_ID"}, "instance_id must match"),
        (
            {"engine": "mysql", "instance_id": "t-x", "mysql_collation": "utf8_bin"},
            "Invalid mysql instance variables",
        ),
    ],
)
def test_bad_input_fails_before_touching_docker(
    deployer: Deployer, extravars: dict[str, Any], message: str
) -> None:
    run = deployer.playbook("provision.yml", extravars)
    assert run.rc != 0
    assert message in run.output
    assert "TASK [redis : Look up" not in run.output
    assert "TASK [mysql : Look up" not in run.output


@pytest.mark.parametrize("instance_id", ["../etc", "t-ok\n"], ids=repr)
def test_deprovision_rejects_a_bad_instance_id(deployer: Deployer, instance_id: str) -> None:
    run = deployer.playbook("deprovision.yml", {"instance_id": instance_id})
    assert run.rc != 0
    assert "instance_id must match" in run.output


@pytest.mark.parametrize(
    ("bind", "expected"), [(None, "127.0.0.1"), ("127.0.0.2", "127.0.0.2")], ids=["absent", "given"]
)
def test_the_port_is_published_on_the_bind_address_and_loopback_without_one(
    deployer: Deployer, bind: str | None, expected: str
) -> None:
    """An inventory that forgets dbvend_bind_address keeps instances off public interfaces."""
    variables = {k: v for k, v in host_vars(deployer.tmp).items() if k != "dbvend_bind_address"}
    if bind is not None:
        variables["dbvend_bind_address"] = bind
    inventory = deployer.tmp / "bind.yml"
    inventory.write_text(yaml.safe_dump({"dbvend_hosts": {"hosts": {"local": variables}}}))
    instance_id = deployer.new_id("bind")
    run = deployer.playbook(
        "provision.yml",
        {"engine": "redis", "instance_id": instance_id, "port": deployer.free_port()},
        inventory=inventory,
    )
    assert run.rc == 0, run.output[-3000:]
    bindings = deployer.container(instance_id).attrs["HostConfig"]["PortBindings"]["6379/tcp"]
    assert [b["HostIp"] for b in bindings] == [expected]


def run_like_the_service(tmp: Path, playbook: str, hosts: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """One ansible-runner call over an inventory with one host per instance, read the way
    service/operations/runner.py reads it: per-host outcomes and the set_stats facts."""
    run_dir = tmp / f"runner-{playbook}-{len(list(tmp.iterdir()))}"
    run_dir.mkdir(mode=0o700)
    inventory = run_dir / "inventory.json"
    fd = os.open(inventory, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump({"all": {"hosts": hosts}}, handle)
    failures: dict[str, Any] = {}
    stats: dict[str, Any] = {}

    def on_event(event: Mapping[str, Any]) -> bool:
        data = event.get("event_data") or {}
        if event.get("event") == "runner_on_failed" and not data.get("ignore_errors"):
            failures[data["host"]] = data.get("res")
        elif event.get("event") == "playbook_on_stats":
            stats.update(data)
        return False

    env = ansible_env()
    runner = ansible_runner.run(
        private_data_dir=str(run_dir),
        project_dir=str(ROOT),
        playbook=str(ROOT / "playbooks" / playbook),
        inventory=str(inventory),
        extravars={"dbvend_target": "all"},
        forks=len(hosts),
        quiet=True,
        event_handler=on_event,
        envvars={
            key: env[key] for key in ("ANSIBLE_CONFIG", "ANSIBLE_ROLES_PATH", "ANSIBLE_NOCOLOR", "PATH")
        },
        settings={"suppress_ansible_output": True, "suppress_output_file": True},
    )
    assert runner.rc == 0, failures
    assert not failures
    return stats


@pytest.mark.slow
def test_instances_as_inventory_hosts_in_one_run_report_merged_facts(deployer: Deployer) -> None:
    """The service's batch: a redis and a mysql instance on one Docker host, one run."""
    redis_id, mysql_id = deployer.new_id("batch-r"), deployer.new_id("batch-m")
    redis_port = deployer.free_port()
    mysql_port = deployer.free_port(exclude=(redis_port,))
    docker_host = {**host_vars(deployer.tmp), "dbvend_host_name": "local"}
    creds = {"redis": password(), "mysql": password(), "root": password(), "admin": password()}
    hosts = {
        redis_id: {
            **docker_host,
            "engine": "redis",
            "instance_id": redis_id,
            "port": redis_port,
            "redis_username": "u_r",
            "redis_password": creds["redis"],
            "redis_admin_password": creds["admin"],
            "redis_maxmemory": 64 * 1024 * 1024,
        },
        mysql_id: {
            **docker_host,
            "engine": "mysql",
            "instance_id": mysql_id,
            "port": mysql_port,
            "mysql_username": "u_m",
            "mysql_password": creds["mysql"],
            "mysql_root_password": creds["root"],
            "mysql_database": "shop",
            # no collation: the character set's default, left out of the config
        },
    }
    stats = run_like_the_service(deployer.tmp, "provision.yml", hosts)

    facts = stats["artifact_data"]["dbvend_instances"]
    assert set(facts) == {redis_id, mysql_id}
    for instance_id, engine, port in ((redis_id, "redis", redis_port), (mysql_id, "mysql", mysql_port)):
        container = deployer.container(instance_id)
        assert facts[instance_id] == {
            "container_id": container.id,
            "container_name": f"dbvend-{instance_id}",
            "image": REDIS_IMAGE if engine == "redis" else MYSQL_IMAGE,
            "server_version": facts[instance_id]["server_version"],
            "host": "local",
            "address": "127.0.0.1",
            "port": port,
            "engine": engine,
        }
    assert facts[redis_id]["server_version"].startswith("7.0.")
    assert "10.11." in facts[mysql_id]["server_version"]
    assert "MariaDB" in facts[mysql_id]["server_version"]

    r = redis.Redis(
        host="127.0.0.1", port=redis_port, username="u_r", password=creds["redis"], socket_timeout=10
    )
    assert r.set("a", "1")
    conn = pymysql.connect(
        host="127.0.0.1",
        port=mysql_port,
        user="u_m",
        password=creds["mysql"],
        database="shop",
        connect_timeout=10,
    )
    with conn.cursor() as cursor:
        cursor.execute("SELECT @@character_set_server, @@collation_server")
        assert cursor.fetchone() == ("utf8mb4", "utf8mb4_general_ci")
        cursor.execute(
            "SELECT DEFAULT_COLLATION_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = 'shop'"
        )
        assert cursor.fetchone() == ("utf8mb4_general_ci",)
    conn.close()
    config = (deployer.tmp / "data" / mysql_id / "config" / "dbvend.cnf").read_text()
    assert "collation-server" not in config

    # Deprovision both the same way: containers and directories go; a second run is fine.
    gone = {iid: {**docker_host, "instance_id": iid} for iid in hosts}
    run_like_the_service(deployer.tmp, "deprovision.yml", gone)
    for instance_id, port in ((redis_id, redis_port), (mysql_id, mysql_port)):
        assert not deployer.docker.containers.list(
            all=True, ignore_removed=True, filters={"name": f"dbvend-{instance_id}"}
        )
        assert not (deployer.tmp / "data" / instance_id / "data").exists()
        assert port_is_free(port)
    run_like_the_service(deployer.tmp, "deprovision.yml", gone)
    run = deployer.deprovision(redis_id)
    assert run.rc == 0
