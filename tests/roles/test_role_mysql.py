"""roles/mysql through playbooks/provision.yml: server settings, the database's character
set, privileges of the application account, the monitor account and root (local only),
container limits, idempotence, no secrets in output or in the container's env, and names
the API refuses refused here too."""

from __future__ import annotations

import json
import stat

import pymysql
import pytest

from tests.roles.conftest import Deployer, password

MIB = 1024 * 1024


def connect(port: int, user: str, secret: str, database: str | None = None) -> pymysql.Connection:
    return pymysql.connect(
        host="127.0.0.1", port=port, user=user, password=secret, database=database, connect_timeout=10
    )


def root_sql(deployer: Deployer, instance_id: str, root_password: str, sql: str) -> str:
    result = deployer.container(instance_id).exec_run(
        ["mariadb", "-uroot", "-NBe", sql], environment={"MYSQL_PWD": root_password}
    )
    assert result.exit_code == 0, result.output
    return str(result.output.decode()).strip()


def query(conn: pymysql.Connection, sql: str, *args: object) -> list[tuple[object, ...]]:
    with conn.cursor() as cursor:
        cursor.execute(sql, args)
        return list(cursor.fetchall())


@pytest.mark.slow
def test_mysql_instance_settings_privileges_idempotence_and_no_secrets(deployer: Deployer) -> None:
    instance_id = deployer.new_id("mysql")
    port = deployer.free_port()
    secrets = {"mysql_password": password(), "mysql_root_password": password()}
    variables = {
        "port": port,
        "mysql_username": "u_orders",
        "mysql_database": "orders",
        "mysql_charset": "latin1",
        "mysql_collation": "latin1_general_cs",
        "mysql_memory_mb": 320,
        "mysql_max_connections": 57,
        **secrets,
    }

    first = deployer.provision("mysql", instance_id, "-vvv", **variables)
    assert first.changed() > 0

    # Over the network dbvend has only its monitor account (root's password, USAGE only).
    monitor = connect(port, "dbvend_monitor", secrets["mysql_root_password"])
    settings = dict(
        query(
            monitor,
            "SHOW VARIABLES WHERE Variable_name IN "
            "('character_set_server', 'collation_server', 'max_connections', 'innodb_buffer_pool_size')",
        )
    )
    assert settings == {
        "character_set_server": "latin1",
        "collation_server": "latin1_general_cs",
        "max_connections": "57",
        "innodb_buffer_pool_size": str(160 * MIB),  # half of mysql_memory_mb
    }
    # What the monitoring probe reads (service/engines/mysql_client.py).
    assert query(monitor, "SHOW GLOBAL STATUS WHERE Variable_name = 'Uptime'")
    assert query(monitor, "SELECT @@max_connections") == [(57,)]
    for sql in ("SELECT * FROM mysql.user", "SELECT * FROM orders.t", "CREATE DATABASE by_monitor"):
        with pytest.raises((pymysql.err.OperationalError, pymysql.err.ProgrammingError)) as denied:
            query(monitor, sql)
        assert denied.value.args[0] in (1142, 1044, 1146), sql
    # root is root@localhost only: not through the published port, with either password.
    for secret in secrets.values():
        with pytest.raises(pymysql.err.OperationalError) as refused:
            connect(port, "root", secret)
        assert refused.value.args[0] == 1045
    # Inside the container root administers the server (password through the exec env).
    users = root_sql(
        deployer, instance_id, secrets["mysql_root_password"], "SELECT User, Host FROM mysql.user"
    )
    assert sorted(users.split("\n")) == sorted(
        ["mariadb.sys\tlocalhost", "root\tlocalhost", "u_orders\t%", "dbvend_monitor\t%"]
    )
    root_sql(deployer, instance_id, secrets["mysql_root_password"], "CREATE DATABASE admin_made")

    app = connect(port, "u_orders", secrets["mysql_password"], "orders")
    assert query(
        app,
        "SELECT DEFAULT_CHARACTER_SET_NAME, DEFAULT_COLLATION_NAME FROM information_schema.SCHEMATA "
        "WHERE SCHEMA_NAME = %s",
        "orders",
    ) == [("latin1", "latin1_general_cs")]
    query(app, "CREATE TABLE t (id INT PRIMARY KEY, name VARCHAR(20))")
    query(app, "INSERT INTO t VALUES (1, 'x')")
    assert query(app, "SELECT name FROM t") == [("x",)]
    with pytest.raises(pymysql.err.OperationalError) as denied:
        query(app, "CREATE DATABASE other")
    assert denied.value.args[0] == 1044  # access denied for user to database
    for sql in ("SELECT * FROM mysql.user", "SELECT * FROM admin_made.x"):
        with pytest.raises((pymysql.err.OperationalError, pymysql.err.ProgrammingError)) as denied:
            query(app, sql)
        assert denied.value.args[0] in (1142, 1044)  # command denied / access denied

    container = deployer.container(instance_id)
    assert container.labels["dbvend.engine"] == "mysql"
    host_config = container.attrs["HostConfig"]
    assert host_config["Memory"] == 320 * MIB
    assert host_config["RestartPolicy"]["Name"] == "unless-stopped"
    assert host_config["PortBindings"]["3306/tcp"] == [{"HostIp": "127.0.0.1", "HostPort": str(port)}]
    # Limits: 0.5 CPU (1 per GiB, steps of 0.5, at least 0.5), pids, rotated logs.
    assert (host_config["CpuQuota"], host_config["CpuPeriod"]) == (50_000, 100_000)
    assert host_config["PidsLimit"] == 10256
    assert host_config["MemorySwap"] == 320 * MIB  # no swap
    assert host_config["LogConfig"] == {"Type": "json-file", "Config": {"max-size": "10m", "max-file": "3"}}
    # The container's env and command line hold hashes, never a password; root is local.
    inspected = json.dumps(
        {
            "env": container.attrs["Config"]["Env"],
            "cmd": container.attrs["Config"]["Cmd"],
            "args": container.attrs["Args"],
        }
    )
    for value in secrets.values():
        assert value not in inspected
    env = dict(item.split("=", 1) for item in container.attrs["Config"]["Env"])
    assert env["MARIADB_ROOT_HOST"] == "localhost"
    assert "MARIADB_ROOT_PASSWORD" not in env
    assert env["MARIADB_ROOT_PASSWORD_HASH"].startswith("*")
    # The application account comes from the init file: nothing of it in the env.
    assert not {"MARIADB_USER", "MARIADB_PASSWORD", "MARIADB_PASSWORD_HASH", "MARIADB_DATABASE"} & set(env)
    # Settings are in a file on the host, not on the command line; the data directory is root-only.
    assert container.attrs["Config"]["Cmd"] == ["mariadbd"]
    config = (deployer.tmp / "data" / instance_id / "config" / "dbvend.cnf").read_text()
    assert "collation-server = latin1_general_cs" in config
    assert "max_connections = 57" in config
    assert stat.S_IMODE((deployer.tmp / "data" / instance_id).stat().st_mode) == 0o700

    second = deployer.provision("mysql", instance_id, "-vvv", **variables)
    assert second.changed() == 0, second.output[-3000:]
    for run in (first, second):
        for value in secrets.values():
            assert value not in run.output

    # A changed setting rewrites the file and restarts the same container on the same data.
    third = deployer.provision("mysql", instance_id, **{**variables, "mysql_max_connections": 58})
    assert third.changed() > 0
    assert deployer.container(instance_id).id == container.id
    app = connect(port, "u_orders", secrets["mysql_password"], "orders")
    assert query(app, "SELECT @@max_connections") == [(58,)]
    assert query(app, "SELECT name FROM t") == [("x",)]

    # Deprovisioning shows no secret either (the container's env holds them) and is complete.
    gone = deployer.playbook("deprovision.yml", {"instance_id": instance_id}, "-vvv")
    assert gone.rc == 0, gone.output[-3000:]
    assert all(value not in gone.output for value in secrets.values())
    assert not (deployer.tmp / "data" / instance_id).exists()
    assert not deployer.docker.containers.list(
        all=True, ignore_removed=True, filters={"name": f"dbvend-{instance_id}"}
    )


@pytest.mark.parametrize(
    "bad",
    [
        {"mysql_database": "mysql\n"},
        {"mysql_database": "MySQL"},
        {"mysql_database": "Information_Schema"},
        {"mysql_database": "a$b"},
        {"mysql_database": "#mysql50#x"},
        {"mysql_database": "d" * 65},
        {"mysql_username": "root"},
        {"mysql_username": "u_x\n"},
        {"mysql_username": "Mariadb.sys"},
        {"mysql_username": "dbvend_monitor"},
    ],
    ids=repr,
)
def test_names_the_api_refuses_are_refused_before_any_container(
    deployer: Deployer, bad: dict[str, str]
) -> None:
    """Defence in depth: a direct run (no API in front) refuses what the API refuses, on the
    controller, before the host is touched."""
    instance_id = deployer.new_id("name")
    run = deployer.playbook(
        "provision.yml",
        {
            "engine": "mysql",
            "instance_id": instance_id,
            "port": deployer.free_port(),
            "mysql_password": password(),
            "mysql_root_password": password(),
            **bad,
        },
    )
    assert run.rc != 0
    assert "Invalid mysql instance variables" in run.output
    assert "not a system database" in run.output
    assert "TASK [mysql : Make the instance directory" not in run.output
    assert not deployer.exists(instance_id)
