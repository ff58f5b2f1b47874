"""images/mariadb's entrypoint: accounts from mysql_native_password hashes (no password in
the env), the plain-password contract still working, and names the API refuses refused
(a trailing newline is not stripped first)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import docker
import pymysql
import pytest

from service.engines.mysql import mysql_native_password
from tests.e2e.service_process import free_port
from tests.roles.conftest import MYSQL_IMAGE, password


@pytest.fixture
def run_mariadb(docker_engine: docker.DockerClient) -> Iterator[Any]:
    made: list[Any] = []

    def run(env: dict[str, str]) -> tuple[Any, int]:
        port = free_port()
        container = docker_engine.containers.run(
            MYSQL_IMAGE,
            detach=True,
            environment=env,
            ports={"3306/tcp": ("127.0.0.1", port)},
            labels={"dbvend.test": "image-mariadb"},
        )
        made.append(container)
        return container, port

    yield run
    for container in made:
        container.remove(force=True, v=True)


def connect_when_up(port: int, user: str, secret: str, database: str | None = None) -> pymysql.Connection:
    deadline = time.monotonic() + 120
    while True:
        try:
            return pymysql.connect(
                host="127.0.0.1", port=port, user=user, password=secret, database=database, connect_timeout=5
            )
        except pymysql.err.OperationalError as exc:
            # 2003/2013: not listening yet (or the temporary server); anything else is an answer.
            if exc.args[0] not in (2003, 2013) or time.monotonic() > deadline:
                raise
            time.sleep(0.5)


@pytest.mark.parametrize(
    "env",
    [
        {"MARIADB_DATABASE": "mysql\n"},
        {"MARIADB_DATABASE": "SYS"},
        {"MARIADB_DATABASE": "orders\n"},
        {"MARIADB_DATABASE": "a`b"},
        {"MYSQL_DATABASE": "performance_schema"},
        {"MARIADB_USER": "root", "MARIADB_PASSWORD": "x"},
        {"MARIADB_USER": "app\n", "MARIADB_PASSWORD": "x"},
        {"MARIADB_USER": "a'b", "MARIADB_PASSWORD": "x"},
        {"MARIADB_PASSWORD_HASH": "*00' OR '1", "MARIADB_USER": "app"},
    ],
    ids=repr,
)
def test_names_the_api_refuses_stop_the_entrypoint(
    docker_engine: docker.DockerClient, env: dict[str, str]
) -> None:
    container = docker_engine.containers.run(
        MYSQL_IMAGE,
        detach=True,
        environment={"MARIADB_ROOT_PASSWORD": password(), **env},
        labels={"dbvend.test": "image-mariadb"},
    )
    try:
        result = container.wait(timeout=60)
        logs = container.logs().decode()
    finally:
        container.remove(force=True, v=True)
    assert result["StatusCode"] != 0, logs
    assert "ERROR: MARIADB_" in logs
    assert "initializing database files" not in logs


def test_accounts_from_hashes_with_root_local_only(run_mariadb: Any) -> None:
    root_pw, app_pw = password(), password()
    container, port = run_mariadb(
        {
            "MARIADB_ROOT_PASSWORD_HASH": mysql_native_password(root_pw),
            "MARIADB_ROOT_HOST": "localhost",
            "MARIADB_DATABASE": "orders",
            "MARIADB_USER": "u_app",
            "MARIADB_PASSWORD_HASH": mysql_native_password(app_pw),
        }
    )
    with connect_when_up(port, "u_app", app_pw, "orders") as app, app.cursor() as cursor:
        cursor.execute("CREATE TABLE t (id INT)")
    with pytest.raises(pymysql.err.OperationalError) as refused:
        connect_when_up(port, "root", root_pw)
    assert refused.value.args[0] == 1045
    inside = container.exec_run(["mariadb", "-uroot", "-NBe", "SELECT 1"], environment={"MYSQL_PWD": root_pw})
    assert inside.exit_code == 0, inside.output
    assert root_pw not in str(container.attrs["Config"]["Env"])


def test_plain_passwords_and_root_anywhere_still_work(run_mariadb: Any) -> None:
    """The contract the role used before hashes (and the official image keeps)."""
    root_pw, app_pw = password(), password()
    _, port = run_mariadb(
        {
            "MARIADB_ROOT_PASSWORD": root_pw,
            "MARIADB_ROOT_HOST": "%",
            "MARIADB_DATABASE": "orders",
            "MARIADB_USER": "u_app",
            "MARIADB_PASSWORD": app_pw,
        }
    )
    connect_when_up(port, "u_app", app_pw, "orders").close()
    with connect_when_up(port, "root", root_pw) as root, root.cursor() as cursor:
        cursor.execute("CREATE DATABASE by_root")
