"""roles/mysql through playbooks/provision.yml: server settings, the database's character
set, privileges of the application account and root, idempotence, no secrets in output."""

from __future__ import annotations

import stat

import pymysql
import pytest

from tests.roles.conftest import Deployer, password

MIB = 1024 * 1024


def connect(port: int, user: str, secret: str, database: str | None = None) -> pymysql.Connection:
    return pymysql.connect(
        host="127.0.0.1", port=port, user=user, password=secret, database=database, connect_timeout=10
    )


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

    root = connect(port, "root", secrets["mysql_root_password"])
    settings = dict(
        query(
            root,
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
    assert query(
        root,
        "SELECT DEFAULT_CHARACTER_SET_NAME, DEFAULT_COLLATION_NAME FROM information_schema.SCHEMATA "
        "WHERE SCHEMA_NAME = %s",
        "orders",
    ) == [("latin1", "latin1_general_cs")]
    # root is root@'%' with its own password and can administer the server.
    assert ("root", "%") in query(root, "SELECT User, Host FROM mysql.user")
    query(root, "CREATE DATABASE admin_made")

    app = connect(port, "u_orders", secrets["mysql_password"], "orders")
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
    with pytest.raises(pymysql.err.OperationalError):
        connect(port, "root", secrets["mysql_password"])

    container = deployer.container(instance_id)
    assert container.labels["dbvend.engine"] == "mysql"
    assert container.attrs["HostConfig"]["Memory"] == 320 * MIB
    assert container.attrs["HostConfig"]["RestartPolicy"]["Name"] == "unless-stopped"
    assert container.attrs["HostConfig"]["PortBindings"]["3306/tcp"] == [
        {"HostIp": "127.0.0.1", "HostPort": str(port)}
    ]
    # Settings are mariadbd options on the command line; the data directory is root-only.
    assert "--collation-server=latin1_general_cs" in container.attrs["Config"]["Cmd"]
    assert "--max_connections=57" in container.attrs["Config"]["Cmd"]
    assert stat.S_IMODE((deployer.tmp / "data" / instance_id).stat().st_mode) == 0o700

    second = deployer.provision("mysql", instance_id, "-vvv", **variables)
    assert second.changed() == 0, second.output[-3000:]
    for run in (first, second):
        for value in secrets.values():
            assert value not in run.output

    # A changed setting recreates the container on the same data: the table is still there.
    third = deployer.provision("mysql", instance_id, **{**variables, "mysql_max_connections": 58})
    assert third.changed() > 0
    assert deployer.container(instance_id).id != container.id
    app = connect(port, "u_orders", secrets["mysql_password"], "orders")
    assert query(app, "SELECT @@max_connections") == [(58,)]
    assert query(app, "SELECT name FROM t") == [("x",)]

    # Deprovisioning shows no secret either (the container's env holds them) and is complete.
    gone = deployer.playbook("deprovision.yml", {"instance_id": instance_id}, "-vvv")
    assert gone.rc == 0, gone.output[-3000:]
    assert all(value not in gone.output for value in secrets.values())
    assert not (deployer.tmp / "data" / instance_id).exists()
    assert not deployer.docker.containers.list(all=True, filters={"name": f"dbvend-{instance_id}"})
