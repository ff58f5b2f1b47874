"""Fixtures for the role tests: the real playbooks, run with ansible-playbook against this
machine's Docker engine, with an inventory of our own (data root and secrets in a pytest
tmp dir, the "roles" ports of tests/ports.py)."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import docker
import pytest
import yaml

from tests.ansible_recap import play_recap
from tests.ports import port_range

ROOT = Path(__file__).resolve().parents[2]
BIN = (
    ROOT / ".venv" / "bin"
    if (ROOT / ".venv" / "bin" / "ansible-playbook").exists()
    else Path(sys.executable).parent
)
PORTS = port_range("roles")
# Another build of an image can be tried without retagging the one others use.
MYSQL_IMAGE = os.environ.get("DBVEND_TEST_MYSQL_IMAGE", "dbvend/mariadb:10.11")
REDIS_IMAGE = os.environ.get("DBVEND_TEST_REDIS_IMAGE", "dbvend/redis:7.0")
IMAGES = (MYSQL_IMAGE, REDIS_IMAGE)


def ansible_env() -> dict[str, str]:
    return {
        **os.environ,
        "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
        "ANSIBLE_ROLES_PATH": str(ROOT / "roles"),
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_FORCE_COLOR": "0",
        "PATH": f"{BIN}:{os.environ.get('PATH', '/usr/bin:/bin')}",
    }


def host_vars(tmp: Path) -> dict[str, Any]:
    """The Docker host's variables, as in inventory/hosts.yml but with test paths and ports."""
    return {
        "ansible_connection": "local",
        "ansible_python_interpreter": "{{ ansible_playbook_python }}",
        "dbvend_address": "127.0.0.1",
        "dbvend_bind_address": "127.0.0.1",
        "dbvend_port_range": list(PORTS),
        "dbvend_capacity_mb": 8192,
        "dbvend_data_root": str(tmp / "data"),
        "dbvend_docker_host": "unix:///var/run/docker.sock",
        "dbvend_secrets_dir": str(tmp / "secrets"),
        "dbvend_mysql_image": MYSQL_IMAGE,
        "dbvend_redis_image": REDIS_IMAGE,
    }


def password() -> str:
    return secrets.token_urlsafe(24)


def port_is_free(port: int, *, strict: bool = False) -> bool:
    """Nothing listens on (or holds) 127.0.0.1:port. TIME_WAIT leftovers of an earlier
    test's connections do not count unless `strict`: a bind without SO_REUSEADDR fails on
    them."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        if not strict:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@dataclass
class Run:
    rc: int
    output: str

    @property
    def recap(self) -> dict[str, dict[str, int]]:
        return play_recap(self.output)

    def changed(self, host: str = "local") -> int:
        return self.recap[host]["changed"]


@dataclass
class Deployer:
    """Runs playbooks/*.yml like ops do, remembers every instance id it handed out and
    deprovisions them all at teardown."""

    tmp: Path
    docker: docker.DockerClient
    ids: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.inventory = self.tmp / "hosts.yml"
        self.inventory.write_text(yaml.safe_dump({"dbvend_hosts": {"hosts": {"local": host_vars(self.tmp)}}}))
        self._vars_files = 0

    def new_id(self, prefix: str) -> str:
        instance_id = f"t-{prefix}-{secrets.token_hex(3)}"
        self.ids.append(instance_id)
        return instance_id

    def free_port(self, *, strict: bool = False, exclude: tuple[int, ...] = ()) -> int:
        """The lowest port of the range no container claims and nothing holds; `strict`
        also skips ports with TIME_WAIT leftovers (for a test's own bind without
        SO_REUSEADDR)."""
        claimed = set(exclude)
        for container in self.docker.containers.list(
            all=True, ignore_removed=True, filters={"label": "dbvend.managed=true"}
        ):
            port = container.labels.get("dbvend.port")
            if port:
                claimed.add(int(port))
        for port in range(PORTS[0], PORTS[1] + 1):
            if port not in claimed and port_is_free(port, strict=strict):
                return port
        raise AssertionError("no free port in the test range")

    def playbook(
        self, name: str, extravars: dict[str, Any], *args: str, inventory: Path | None = None
    ) -> Run:
        # Extra vars (passwords included) go through a 0600 file, not the command line.
        self._vars_files += 1
        vars_file = self.tmp / f"vars-{self._vars_files}.json"
        fd = os.open(vars_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(extravars, handle)
        proc = subprocess.run(
            [
                str(BIN / "ansible-playbook"),
                "-i",
                str(inventory or self.inventory),
                str(ROOT / "playbooks" / name),
                "-e",
                f"@{vars_file}",
                *args,
            ],
            cwd=ROOT,
            env=ansible_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=600,
            check=False,
        )
        return Run(proc.returncode, proc.stdout)

    def provision(self, engine: str, instance_id: str, *args: str, **variables: Any) -> Run:
        run = self.playbook(
            "provision.yml", {"engine": engine, "instance_id": instance_id, **variables}, *args
        )
        assert run.rc == 0, run.output[-4000:]
        return run

    def deprovision(self, instance_id: str) -> Run:
        return self.playbook("deprovision.yml", {"instance_id": instance_id})

    def container(self, instance_id: str) -> Any:
        return self.docker.containers.get(f"dbvend-{instance_id}")

    def exists(self, instance_id: str) -> bool:
        found = self.docker.containers.list(
            all=True, ignore_removed=True, filters={"label": f"dbvend.instance={instance_id}"}
        )
        return bool(found) or (self.tmp / "data" / instance_id).exists()

    def cleanup(self) -> None:
        for instance_id in self.ids:
            if not self.exists(instance_id):
                continue
            run = self.deprovision(instance_id)
            if run.rc != 0:  # still remove the container, whatever the playbook did
                with contextlib.suppress(docker.errors.NotFound):
                    self.container(instance_id).remove(force=True, v=True)


@pytest.fixture(scope="session")
def docker_engine() -> Iterator[docker.DockerClient]:
    try:
        client = docker.from_env()
        client.ping()
    except docker.errors.DockerException as exc:
        pytest.fail(f"no Docker engine: {exc}")
    for image in IMAGES:
        try:
            client.images.get(image)
        except docker.errors.ImageNotFound:
            client.close()
            pytest.fail(f"image {image} missing (renamed?): run scripts/ensure-images.sh")
    yield client
    client.close()


@pytest.fixture
def deployer(tmp_path: Path, docker_engine: docker.DockerClient) -> Iterator[Deployer]:
    deployer = Deployer(tmp_path, docker_engine)
    try:
        yield deployer
    finally:
        deployer.cleanup()
