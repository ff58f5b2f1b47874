"""schemathesis over every operation of the generated OpenAPI document, against the real
service as a process (real PostgreSQL, real Docker): as a plain user and as an admin,
with a fixed seed. The checks: no server error, no undocumented status code, every
response matching its documented schema and content type.

Instance creation is bounded by quotas, not by luck: each of the two accounts may hold two
instances (then creates answer 403 quota_exceeded), and ?wait is capped at 1 s."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import docker
import pytest

from tests.e2e.service_process import ServiceProcess
from tests.helpers import ROOT, create_database, drop_database, write_inventory

SEED = 20261201
# no_server_error (st_checks.py) stands in for not_a_server_error: it lets the documented
# 503 no_capacity through and nothing else.
CHECKS = "no_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"
# Logging out would end the run's own session; everything else is fair game.
EXCLUDE = ["--exclude-path", "/auth/logout"]


@pytest.fixture
async def live_service(tmp_path: Path, docker_client: docker.DockerClient) -> AsyncIterator[ServiceProcess]:
    url = await create_database()
    inventory = write_inventory(tmp_path / "inventory", ports=(26000, 26099))
    svc = ServiceProcess(
        url,
        tmp_path / "state",
        inventory,
        tmp_path / "service.log",
        DBVEND_MAX_WAIT="1",
        DBVEND_COLLECT_INTERVAL="0",
    )
    await svc.start()
    try:
        yield svc
    finally:
        await svc.stop()
        for container in docker_client.containers.list(all=True, filters={"label": "dbvend.managed=true"}):
            if any(
                str(m.get("Source", "")).startswith(str(tmp_path)) for m in container.attrs.get("Mounts", [])
            ):
                container.remove(force=True, v=True)
        await drop_database(url)


def _fuzz(svc: ServiceProcess, token: str, report: Path, max_examples: int) -> tuple[int, str]:
    command = [
        str(Path(sys.executable).with_name("st")),
        "run",
        svc.base + "/openapi.json",
        "--checks",
        CHECKS,
        "--seed",
        str(SEED),
        "--max-examples",
        str(max_examples),
        "--workers",
        "2",
        "--no-color",
        "--request-timeout",
        "30",
        "--phases",
        "examples,coverage,fuzzing",
        "--generation-database",
        "none",
        "--report",
        "junit",
        "--report-junit-path",
        str(report),
        "-H",
        f"Authorization: Bearer {token}",
        *EXCLUDE,
    ]
    done = subprocess.run(
        command,
        cwd=report.parent,
        capture_output=True,
        text=True,
        timeout=900,
        env={
            **os.environ,
            "NO_COLOR": "1",
            "SCHEMATHESIS_HOOKS": "tests.contract.st_checks",
            "PYTHONPATH": str(ROOT),
        },
        check=False,
    )
    return done.returncode, done.stdout + done.stderr


async def _user_token(svc: ServiceProcess) -> str:
    password = "fuzz-" + os.urandom(12).hex()
    status, body = await svc.call("POST", "/users", json={"username": "fuzzer", "password": password})
    assert status == 201, body
    for name in ("fuzzer", "admin"):
        status, body = await svc.call("PATCH", f"/users/{name}", json={"quota": {"instances": 2}})
        assert status == 200, body
    status, body = await svc.call("POST", "/auth/login", json={"username": "fuzzer", "password": password})
    assert status == 200, body
    return str(body["token"])


def _summary(output: str) -> str:
    lines = [
        line for line in output.splitlines() if re.search(r"(passed|failed|errors?|cases|operations)", line)
    ]
    return "\n".join(lines[-12:])


@pytest.mark.slow
async def test_schemathesis_finds_nothing_as_user_or_admin(
    live_service: ServiceProcess, tmp_path: Path
) -> None:
    user_token = await _user_token(live_service)
    runs = {"user": user_token, "admin": live_service.token}
    for who, token in runs.items():
        rc, output = await asyncio.to_thread(_fuzz, live_service, token, tmp_path / f"{who}.xml", 40)
        print(f"--- schemathesis as {who} ---\n{_summary(output)}")
        assert rc == 0, f"schemathesis as {who} found problems:\n{output[-12000:]}"
