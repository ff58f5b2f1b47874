"""schemathesis over the credentials routes alone (tests/contract runs every route; this is
the quick one while working on them), against the service as a process, as a plain user:
no server error, no undocumented status, every response matching its schema. The ids it
makes up name no instance, so this covers the validation and 404 paths."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import docker
import pytest

from tests.contract.test_schemathesis import _fuzz, _fuzzer, _login, _summary
from tests.e2e.service_process import ServiceProcess
from tests.helpers import create_database, drop_database, write_inventory


@pytest.fixture
async def live_service(tmp_path: Path, docker_client: docker.DockerClient) -> AsyncIterator[ServiceProcess]:
    url = await create_database()
    inventory = write_inventory(tmp_path / "inventory", ports=(27100, 27149))
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


@pytest.mark.slow
async def test_schemathesis_on_the_credentials_routes(live_service: ServiceProcess, tmp_path: Path) -> None:
    token = await _login(live_service, await _fuzzer(live_service))
    rc, output = await asyncio.to_thread(
        _fuzz, live_service, token, tmp_path / "credentials.xml", 60, ["--include-path-regex", "credentials"]
    )
    print(f"schemathesis on credentials: {_summary(output)}")
    assert rc == 0, f"schemathesis found problems:\n{output[-12000:]}"
