"""The container image of dbvend itself (deploy/Dockerfile, scripts/build-service-image.sh):
it builds here without a registry, runs as a non-root user, and a container of it migrates
an external PostgreSQL, serves /api/v1/openapi.json and logs the admin in.

SLOW on a cold cache (debootstrap of the base, wheels for the image's Python, the build:
about 3 minutes); the script skips the build while a content hash of its inputs matches
the image's label, so a warm run takes seconds."""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import docker
import pytest
from cryptography.fernet import Fernet

from tests.e2e.service_process import free_port
from tests.helpers import ADMIN_PASSWORD, ROOT, create_database, drop_database, write_inventory
from tests.ports import port_range

pytestmark = pytest.mark.slow
IMAGE = "dbvend/service:test"


@pytest.fixture(scope="module")
def image() -> str:
    result = subprocess.run(
        ["bash", str(ROOT / "scripts" / "build-service-image.sh")],
        env={**os.environ, "DBVEND_SERVICE_IMAGE": IMAGE, "DBVEND_BUILD_PYTHON": sys.executable},
        capture_output=True,
        text=True,
        timeout=420,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().splitlines()[-1] == IMAGE
    return IMAGE


@pytest.fixture
async def external_database() -> AsyncIterator[str]:
    url = await create_database(migrated=False)  # the container migrates it
    yield url
    await drop_database(url)


@pytest.fixture
def container_name(docker_client: docker.DockerClient) -> Iterator[str]:
    name = f"dbvend-service-test-{secrets.token_hex(4)}"
    yield name
    with contextlib.suppress(docker.errors.NotFound):
        docker_client.containers.get(name).remove(force=True, v=True)


def test_the_image_is_current_and_runs_as_a_user_of_its_own(
    image: str, docker_client: docker.DockerClient
) -> None:
    built = docker_client.images.get(image)
    config = built.attrs["Config"]
    assert config["User"] == "dbvend"
    assert config["Labels"]["dbvend.recipe"]
    # A second build with nothing changed is a cache hit: seconds, not minutes.
    again = subprocess.run(
        ["bash", str(ROOT / "scripts" / "build-service-image.sh")],
        env={**os.environ, "DBVEND_SERVICE_IMAGE": image, "DBVEND_BUILD_PYTHON": sys.executable},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert "building" not in again.stderr
    assert docker_client.images.get(image).id == built.id


async def test_a_container_serves_the_api_against_an_external_postgresql(
    image: str,
    external_database: str,
    container_name: str,
    tmp_path: Path,
    docker_client: docker.DockerClient,
) -> None:
    # The inventory as an operator mounts it (read-only); PostgreSQL listens on loopback
    # here, so the container shares the host's network.
    inventory = write_inventory(tmp_path / "inventory", ports=port_range("deploy.image"))
    inventory.parent.chmod(0o755)
    port = free_port()
    container = docker_client.containers.run(
        image,
        name=container_name,
        detach=True,
        network_mode="host",
        environment={
            "DATABASE_URL": external_database,
            "DBVEND_SECRET_KEY": Fernet.generate_key().decode(),
            "DBVEND_ADMIN_PASSWORD": ADMIN_PASSWORD,
            "DBVEND_LISTEN": f"127.0.0.1:{port}",
            "DBVEND_POOL": "off",
            "DBVEND_COLLECT_INTERVAL": "0",
        },
        volumes={str(inventory.parent): {"bind": "/etc/dbvend/inventory", "mode": "ro"}},
    )
    base = f"http://127.0.0.1:{port}/api/v1"
    async with aiohttp.ClientSession() as session:
        for _ in range(240):
            container.reload()
            assert container.status in ("created", "running"), container.logs()[-3000:]
            try:
                async with session.get(base + "/openapi.json") as response:
                    if response.status == 200:
                        document = await response.json()
                        break
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.5)
        else:
            raise AssertionError(container.logs().decode()[-3000:])
        assert document["openapi"].startswith("3.")
        login = {"username": "admin", "password": ADMIN_PASSWORD}
        async with session.post(base + "/auth/login", json=login) as response:
            assert response.status == 200, await response.text()
            token = (await response.json())["token"]
        async with session.get(base + "/me", headers={"Authorization": f"Bearer {token}"}) as response:
            assert response.status == 200
            assert (await response.json())["username"] == "admin"
        # The web console comes in the image, built (no node there).
        async with session.get(f"http://127.0.0.1:{port}/console/assets/app.js") as response:
            assert response.status == 200
            assert "Content-Security-Policy" in response.headers
    # In production mode (the image's default) and as the dbvend user, not root.
    assert container.exec_run("id -un").output.decode().strip() == "dbvend"
    logs = container.logs().decode()
    assert "applied migrations" in logs
    assert ADMIN_PASSWORD not in logs
