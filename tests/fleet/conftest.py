"""Fleet tests on real hosts made on this machine: `scripts/fleet-testbed.sh up 3` builds three
network namespaces, each with its own sshd and its own dockerd/containerd, and writes an
Ansible inventory for them; playbooks/prepare_host.yml then loads the images into them over
SSH. Everything is torn down (`down`) at the end of the session, whatever happened.

Needs root and `ip netns`; the tests are skipped otherwise."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
import pytest
import yaml

from tests.ansible_recap import play_recap

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = ROOT / ".venv" / "bin"
BIN = VENV_BIN if (VENV_BIN / "ansible-playbook").exists() else Path(sys.executable).parent
TESTBED = ROOT / "scripts" / "fleet-testbed.sh"
STATE_DIR = Path(os.environ.get("DBVEND_STATE_DIR", ROOT / ".state")).resolve()
# Exported image archives; outside the fleet's state so that `down` keeps them for the next run.
IMAGE_CACHE = STATE_DIR / "image-cache"
FLEET_SIZE = 3
# Which testbed (scripts/fleet-testbed.sh DBVEND_FLEET_ID): its names, addresses and state.
FLEET_ID = int(os.environ.get("DBVEND_FLEET_ID", "0"))
FLEET_TAG = "dbvf" if FLEET_ID == 0 else f"dbf{FLEET_ID}"
FLEET_NET = f"10.{251 - FLEET_ID}.0"
FLEET_DIR = STATE_DIR / ("fleet" if FLEET_ID == 0 else f"fleet-{FLEET_ID}")


def ansible_env(**extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
        "ANSIBLE_ROLES_PATH": str(ROOT / "roles"),
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_FORCE_COLOR": "0",
        "PATH": f"{BIN}:{os.environ.get('PATH', '/usr/bin:/bin')}",
        **extra,
    }


def unavailable() -> str | None:
    """Why the fleet cannot be built here, or None."""
    if os.geteuid() != 0:
        return "fleet tests need root (network namespaces, one sshd and dockerd per host)"
    if shutil.which("ip") is None:
        return "fleet tests need iproute2 (`ip netns`)"
    probe = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=False)
    if probe.returncode != 0:
        return f"`ip netns` does not work here: {probe.stderr.strip()}"
    return None


@dataclass
class Run:
    """One ansible(-playbook) run: exit code, output, and the PLAY RECAP per host."""

    args: list[str]
    rc: int
    output: str
    seconds: float

    @property
    def recap(self) -> dict[str, dict[str, int]]:
        return play_recap(self.output)

    def check(self) -> Run:
        assert self.rc == 0, f"{' '.join(self.args)} failed (rc {self.rc}):\n{self.output[-6000:]}"
        return self


@dataclass(frozen=True)
class FleetHost:
    name: str
    address: str
    docker_host: str
    data_root: str


@dataclass
class Fleet:
    inventory: Path
    hosts: list[FleetHost]
    images: list[str]
    prepare: Run

    def host(self, name: str) -> FleetHost:
        return next(h for h in self.hosts if h.name == name)

    def docker(self, name: str) -> docker.DockerClient:
        """A client of that host's own dockerd (close it when done)."""
        return docker.DockerClient(base_url=self.host(name).docker_host, timeout=60)

    def run(self, *args: str, timeout: float = 900, env: dict[str, str] | None = None) -> Run:
        """Runs .venv/bin/<args[0]> from the repository root against the fleet inventory."""
        cmd = [str(BIN / args[0]), "-i", str(self.inventory), *args[1:]]
        started = time.monotonic()
        proc = subprocess.run(
            cmd,
            cwd=ROOT,
            env=env or ansible_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=timeout,
            check=False,
        )
        return Run(cmd, proc.returncode, proc.stdout, time.monotonic() - started)

    def prepare_host(self) -> Run:
        return self.run(
            "ansible-playbook", "playbooks/prepare_host.yml", "-e", f"prepare_host_image_cache={IMAGE_CACHE}"
        )

    def playbook_json(self, *args: str, timeout: float = 600) -> tuple[Run, dict[str, Any]]:
        """ansible-playbook with the JSON callback: the run and its parsed output (with the
        set_stats facts under global_custom_stats)."""
        run = self.run(
            "ansible-playbook",
            *args,
            timeout=timeout,
            env=ansible_env(ANSIBLE_STDOUT_CALLBACK="ansible.posix.json", ANSIBLE_SHOW_CUSTOM_STATS="true"),
        )
        start = run.output.find("{")
        data: dict[str, Any] = json.loads(run.output[start:]) if start >= 0 else {}
        return run, data


def fleet_testbed(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DBVEND_STATE_DIR": str(STATE_DIR)}
    return subprocess.run(
        ["bash", str(TESTBED), *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout,
        check=False,
    )


def group_images() -> list[str]:
    """The images prepare_host.yml makes available: from the group_vars ops maintain."""
    group_vars = yaml.safe_load((ROOT / "inventory" / "group_vars" / "dbvend_hosts.yml").read_text()) or {}
    return [
        group_vars.get("dbvend_mysql_image", "dbvend/mariadb:10.11"),
        group_vars.get("dbvend_redis_image", "dbvend/redis:7.0"),
    ]


def prepared_fleet() -> Fleet:
    """The fleet `fleet-testbed.sh up` made, with the images loaded by prepare_host.yml."""
    inventory = FLEET_DIR / "inventory.yml"
    hosts_vars = yaml.safe_load(inventory.read_text())["dbvend_hosts"]["hosts"]
    hosts = [
        FleetHost(name, v["dbvend_address"], v["dbvend_docker_host"], v["dbvend_data_root"])
        for name, v in sorted(hosts_vars.items())
    ]
    fleet = Fleet(inventory, hosts, group_images(), prepare=Run([], 0, "", 0.0))
    fleet.prepare = fleet.prepare_host().check()
    return fleet


# Seconds per step, shown at the end of the run (pytest_terminal_summary).
TIMINGS: dict[str, float] = {}


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if TIMINGS:
        steps = ", ".join(f"{step} {seconds:.1f} s" for step, seconds in TIMINGS.items())
        terminalreporter.write_line(f"fleet timings: {steps}")


@pytest.fixture(scope="package")
def fleet() -> Iterator[Fleet]:
    reason = unavailable()
    if reason:
        pytest.skip(reason)
    # One testbed per DBVEND_FLEET_ID (netns names, addresses, state dir): a second run of
    # these tests on the same one (another checkout, a benchmark) waits here until this one
    # has torn it down.
    lock = (STATE_DIR / f"{FLEET_DIR.name}.lock").open("a")
    started = time.monotonic()
    fcntl.flock(lock, fcntl.LOCK_EX)
    TIMINGS["waited for the testbed"] = time.monotonic() - started
    try:
        started = time.monotonic()
        up = fleet_testbed("up", str(FLEET_SIZE))
        assert up.returncode == 0, f"fleet-testbed.sh up {FLEET_SIZE} failed:\n{up.stdout[-6000:]}"
        TIMINGS[f"up {FLEET_SIZE}"] = time.monotonic() - started

        fleet = prepared_fleet()
        TIMINGS["prepare_host"] = fleet.prepare.seconds
        yield fleet
    finally:
        started = time.monotonic()
        down = fleet_testbed("down")
        TIMINGS["down"] = time.monotonic() - started
        fcntl.flock(lock, fcntl.LOCK_UN)
        lock.close()
    # Reached only when nothing failed above, so that a failing set-up keeps its own error.
    assert down.returncode == 0, f"fleet-testbed.sh down failed:\n{down.stdout[-6000:]}"
