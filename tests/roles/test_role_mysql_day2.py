"""roles/mysql day-2 operations through playbooks/reconfigure.yml and rotate.yml, run like
ops run them: settings in config/dbvend.cnf, live changes on the same container with an
open client connection kept, one restart when binary logging is switched on, ALTER
DATABASE only with mysql_convert, rotation ending the old password's sessions, and
second runs (and provision.yml after them) changing nothing."""

from __future__ import annotations

import json
import re
import time
from typing import Any

import pymysql
import pytest

from tests.roles.conftest import Deployer, Run, password

MIB = 1024 * 1024


@pytest.fixture(autouse=True)
def _custom_stats(monkeypatch: pytest.MonkeyPatch) -> None:
    # ansible-playbook prints set_stats data with this; the tests read the role's report.
    monkeypatch.setenv("ANSIBLE_SHOW_CUSTOM_STATS", "1")


def report(run: Run, instance_id: str) -> dict[str, Any]:
    match = re.search(r"^\s*RUN: (\{.*\})\s*$", run.output, re.MULTILINE)
    assert match, run.output[-2000:]
    facts: dict[str, Any] = json.loads(match.group(1))["dbvend_instances"][instance_id]
    return facts


def assert_unchanged(run: Run) -> None:
    assert run.rc == 0, run.output[-3000:]
    assert run.changed() == 0, run.output[-3000:]


def connect(port: int, user: str, secret: str, database: str | None = None) -> pymysql.Connection:
    return pymysql.connect(
        host="127.0.0.1", port=port, user=user, password=secret, database=database, connect_timeout=10
    )


def connect_when_up(port: int, user: str, secret: str, database: str) -> pymysql.Connection:
    deadline = time.monotonic() + 120
    while True:
        try:
            return connect(port, user, secret, database)
        except pymysql.err.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def query(conn: pymysql.Connection, sql: str, *args: object) -> list[tuple[Any, ...]]:
    with conn.cursor() as cursor:
        cursor.execute(sql, args)
        return list(cursor.fetchall())


def variables(conn: pymysql.Connection, *names: str) -> dict[str, str]:
    placeholders = ", ".join(["%s"] * len(names))
    return dict(query(conn, f"SHOW GLOBAL VARIABLES WHERE Variable_name IN ({placeholders})", *names))


def restarts(deployer: Deployer, container_id: str, since: float) -> int:
    """Docker's start events of the container after `since` (a restart is one stop + one start)."""
    events = deployer.docker.events(
        since=int(since) - 1,
        until=int(time.time()) + 1,
        filters={"container": container_id, "event": "start"},
        decode=True,
    )
    return sum(1 for event in events if event["timeNano"] > since * 1e9)


@pytest.mark.slow
def test_reconfigure_live_restart_convert_and_idempotence(deployer: Deployer) -> None:
    instance_id = deployer.new_id("m2")
    port = deployer.free_port()
    base = {
        "engine": "mysql",
        "instance_id": instance_id,
        "port": port,
        "mysql_username": "u_shop",
        "mysql_database": "shop",
        "mysql_password": password(),
        "mysql_root_password": password(),
        "mysql_memory_mb": 256,
        "mysql_max_connections": 100,
    }
    deployer.provision(
        "mysql", instance_id, **{k: v for k, v in base.items() if k not in ("engine", "instance_id")}
    )
    config_file = deployer.tmp / "data" / instance_id / "config" / "dbvend.cnf"
    assert "max_connections = 100" in config_file.read_text()
    assert "skip-log-bin" in config_file.read_text()
    container = deployer.container(instance_id)
    assert container.attrs["Config"]["Cmd"] == ["mariadbd"]
    mounts = {m["Destination"]: m for m in container.attrs["Mounts"]}
    assert mounts["/etc/mysql/conf.d/dbvend.cnf"]["RW"] is False

    app = connect(port, "u_shop", base["mysql_password"], "shop")
    app.autocommit(True)
    query(app, "CREATE TABLE t (id INT PRIMARY KEY, note VARCHAR(20))")
    query(app, "INSERT INTO t VALUES (1, 'before')")
    # Binary logging off by default; the format stays ROW (MariaDB's own default is MIXED).
    assert variables(app, "log_bin", "binlog_format", "binlog_expire_logs_seconds") == {
        "log_bin": "OFF",
        "binlog_format": "ROW",
        "binlog_expire_logs_seconds": "604800",
    }

    # Live: max_connections and memory_mb, same container, the open connection keeps working.
    live = {**base, "mysql_max_connections": 150, "mysql_memory_mb": 384}
    since = time.time()
    run = deployer.playbook("reconfigure.yml", live)
    assert run.rc == 0, run.output[-3000:]
    facts = report(run, instance_id)
    assert sorted(facts["applied_live"]) == ["max_connections", "memory_mb"]
    assert facts["applied_by_restart"] == []
    assert facts["container_id"] == container.id
    assert deployer.container(instance_id).id == container.id
    assert restarts(deployer, container.id, since) == 0
    assert query(app, "SELECT note FROM t") == [("before",)]
    assert variables(app, "max_connections", "innodb_buffer_pool_size") == {
        "max_connections": "150",
        "innodb_buffer_pool_size": str(192 * MIB),
    }
    assert deployer.container(instance_id).attrs["HostConfig"]["Memory"] == 384 * MIB
    assert "max_connections = 150" in config_file.read_text()

    # Converged: a second reconfigure and a provision change nothing.
    again = deployer.playbook("reconfigure.yml", live)
    assert_unchanged(again)
    assert report(again, instance_id)["applied_live"] == []
    converge = deployer.playbook("provision.yml", live)
    assert_unchanged(converge)
    assert deployer.container(instance_id).id == container.id

    # The values survive a restart of the container: the server reads them from the file.
    deployer.container(instance_id).restart(timeout=20)
    app = connect_when_up(port, "u_shop", base["mysql_password"], "shop")
    app.autocommit(True)
    assert variables(app, "max_connections", "innodb_buffer_pool_size") == {
        "max_connections": "150",
        "innodb_buffer_pool_size": str(192 * MIB),
    }
    assert deployer.container(instance_id).attrs["HostConfig"]["Memory"] == 384 * MIB

    # Binary logging switched on: exactly one restart, same container, format as given.
    binlog = {**live, "mysql_binlog_format": "statement", "mysql_binlog_expire_logs_seconds": 7200}
    since = time.time()
    run = deployer.playbook("reconfigure.yml", binlog)
    assert run.rc == 0, run.output[-3000:]
    facts = report(run, instance_id)
    assert facts["applied_by_restart"] == ["binlog_format"]
    assert facts["applied_live"] == ["binlog_expire_logs_seconds"]
    assert deployer.container(instance_id).id == container.id
    assert restarts(deployer, container.id, since) == 1
    app = connect_when_up(port, "u_shop", base["mysql_password"], "shop")
    app.autocommit(True)
    assert variables(app, "log_bin", "binlog_format", "binlog_expire_logs_seconds") == {
        "log_bin": "ON",
        "binlog_format": "STATEMENT",
        "binlog_expire_logs_seconds": "7200",
    }
    again = deployer.playbook("reconfigure.yml", binlog)
    assert_unchanged(again)

    # The format while binary logging stays on: live, no restart.
    mixed = {**binlog, "mysql_binlog_format": "MIXED"}
    since = time.time()
    run = deployer.playbook("reconfigure.yml", mixed)
    assert run.rc == 0, run.output[-3000:]
    assert report(run, instance_id)["applied_live"] == ["binlog_format"]
    assert restarts(deployer, container.id, since) == 0
    assert variables(app, "binlog_format") == {"binlog_format": "MIXED"}

    # A character set change without mysql_convert is refused before anything changes.
    latin = {**mixed, "mysql_charset": "latin1", "mysql_collation": "latin1_swedish_ci"}
    refused = deployer.playbook("reconfigure.yml", latin)
    assert refused.rc != 0
    assert "needs -e mysql_convert=true" in refused.output
    assert "character-set-server = utf8mb4" in config_file.read_text()
    schema = "SELECT DEFAULT_CHARACTER_SET_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = 'shop'"
    assert query(app, schema) == [("utf8mb4",)]
    # With it: ALTER DATABASE; existing tables keep theirs.
    run = deployer.playbook("reconfigure.yml", {**latin, "mysql_convert": True})
    assert run.rc == 0, run.output[-3000:]
    assert sorted(report(run, instance_id)["applied_live"]) == ["charset", "collation"]
    assert query(app, schema) == [("latin1",)]
    assert variables(app, "character_set_server") == {"character_set_server": "latin1"}
    table = "SELECT TABLE_COLLATION FROM information_schema.TABLES WHERE TABLE_NAME = 't'"
    assert query(app, table)[0][0].startswith("utf8mb4_")
    final = deployer.playbook("provision.yml", {**latin, "mysql_convert": True})
    assert_unchanged(final)
    assert query(app, "SELECT note FROM t") == [("before",)]


@pytest.mark.slow
def test_rotate_refuses_the_old_password_and_ends_its_sessions(deployer: Deployer) -> None:
    instance_id = deployer.new_id("m2r")
    port = deployer.free_port()
    old, new = password(), password()
    base = {
        "engine": "mysql",
        "instance_id": instance_id,
        "port": port,
        "mysql_username": "u_rot",
        "mysql_database": "rot",
        "mysql_root_password": password(),
    }
    deployer.provision(
        "mysql",
        instance_id,
        port=port,
        mysql_username="u_rot",
        mysql_database="rot",
        mysql_password=old,
        mysql_root_password=base["mysql_root_password"],
    )
    container = deployer.container(instance_id)
    session = connect(port, "u_rot", old, "rot")
    session.autocommit(True)
    query(session, "CREATE TABLE t (id INT PRIMARY KEY)")
    query(session, "INSERT INTO t VALUES (7)")

    # A grace period is refused: MariaDB has no dual passwords; nothing changed.
    grace = deployer.playbook(
        "rotate.yml", {**base, "mysql_password": new, "mysql_password_grace_seconds": 60}
    )
    assert grace.rc != 0
    assert "MariaDB has no dual passwords" in grace.output
    assert query(session, "SELECT id FROM t") == [(7,)]

    # The service passes the hash only (no password reaches Ansible).
    from service.engines.mysql import mysql_native_password

    run = deployer.playbook("rotate.yml", {**base, "mysql_password_hash": mysql_native_password(new)}, "-vvv")
    assert run.rc == 0, run.output[-3000:]
    assert run.changed() == 1
    facts = report(run, instance_id)
    assert facts["password_changed"] is True
    assert facts["sessions_ended"] >= 1
    assert old not in run.output
    assert new not in run.output
    assert mysql_native_password(new) not in run.output
    with pytest.raises(pymysql.err.OperationalError):  # the old session is gone
        query(session, "SELECT id FROM t")
    with pytest.raises(pymysql.err.OperationalError) as refused:
        connect(port, "u_rot", old, "rot")
    assert refused.value.args[0] == 1045
    fresh = connect(port, "u_rot", new, "rot")
    assert query(fresh, "SELECT id FROM t") == [(7,)]
    assert deployer.container(instance_id).id == container.id

    # Idempotent: the account has the hash already, its sessions stay; provision changes nothing.
    again = deployer.playbook("rotate.yml", {**base, "mysql_password": new})
    assert_unchanged(again)
    assert report(again, instance_id)["password_changed"] is False
    assert query(fresh, "SELECT id FROM t") == [(7,)]
    converge = deployer.playbook("provision.yml", {**base, "mysql_password": new})
    assert_unchanged(converge)
    assert deployer.container(instance_id).id == container.id
    # The container's env never held the application account's hash (it would be stale now).
    assert mysql_native_password(old) not in json.dumps(
        deployer.container(instance_id).attrs["Config"]["Env"]
    )
