"""The worker's readiness check against real servers: it returns the version once the
application account works, and gives up with a reason that names the account but never
holds the password."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator

import docker
import pytest

from service.engines import get_engine
from service.engines.readiness import NotReady, wait_ready
from tests.e2e.service_process import free_port


@pytest.fixture
def redis_server(docker_client: docker.DockerClient) -> Iterator[tuple[int, str]]:
    port, password = free_port(), secrets.token_urlsafe(24)
    container = docker_client.containers.run(
        "dbvend/redis:7.0",
        ["redis-server", "--user", "default", "off", "--user", "app", "on", f">{password}", "~*", "+@all"],
        detach=True,
        ports={"6379/tcp": ("127.0.0.1", port)},
        labels={"dbvend.test": "readiness"},
    )
    try:
        yield port, password
    finally:
        container.remove(force=True, v=True)


def connection(port: int, username: str, password: str) -> dict[str, object]:
    return {"host": "127.0.0.1", "port": port, "username": username, "password": password}


async def test_ready_once_the_application_account_works(redis_server: tuple[int, str]) -> None:
    port, password = redis_server
    version = await wait_ready(get_engine("redis"), connection(port, "app", password), within=30)
    assert version.startswith("7.")


async def test_wrong_password_is_not_ready_and_the_reason_hides_it(redis_server: tuple[int, str]) -> None:
    port, password = redis_server
    await wait_ready(get_engine("redis"), connection(port, "app", password), within=30)  # the server is up
    wrong = secrets.token_urlsafe(24)
    started = time.monotonic()
    with pytest.raises(NotReady) as failed:
        await wait_ready(get_engine("redis"), connection(port, "app", wrong), within=1)
    assert 1 <= time.monotonic() - started < 15
    assert f"127.0.0.1:{port}" in str(failed.value)
    assert "(app)" in str(failed.value)
    assert wrong not in str(failed.value)


async def test_nothing_listening_is_not_ready() -> None:
    port = free_port()
    with pytest.raises(NotReady, match=r"Connection refused|Errno 111"):
        await wait_ready(get_engine("mysql"), {**connection(port, "app", "x"), "database": "db"}, within=0.5)
