"""The MariaDB warm pool end to end, without the pool framework: deploy a slot as the
pool keeper does (provision.yml with dbvend_pool_slot), claim it with MysqlEngine.rekey
over the network, check what the tenant gets, record it with converge.yml, and compare it
with a cold-provisioned instance of the same variables."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pymysql
import pytest

from service.engines import Rekey, RekeyFailed, get_engine
from service.engines.base import Credentials, random_password, random_username
from service.engines.mysql import MysqlSettings, mysql_native_password
from service.engines.mysql_rekey import CLAIM_ACCOUNT
from tests.roles.conftest import Deployer
from tests.roles.test_role_mysql_day2 import (
    assert_unchanged,
    connect,
    connect_when_up,
    query,
    report,
    variables,
)

mysql = get_engine("mysql")
SYSTEM = {"information_schema", "mysql", "performance_schema", "sys"}
ACCESS_DENIED = 1045


@pytest.fixture(autouse=True)
def _custom_stats(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANSIBLE_SHOW_CUSTOM_STATS", "1")


def slot_vars(instance_id: str, port: int, admin_password: str) -> dict[str, Any]:
    """What the pool keeper passes: the class's settings and throwaway slot credentials."""
    settings = mysql.slot_settings(256)
    assert settings is not None
    credentials = Credentials(random_username(), random_password(), admin_password)
    return {
        "engine": "mysql",
        "instance_id": instance_id,
        "port": port,
        "dbvend_wait_ready": False,
        "dbvend_pool_slot": True,
        **mysql.role_vars(settings, credentials),
    }


def instance_vars(
    instance_id: str, port: int, settings: MysqlSettings, credentials: Credentials
) -> dict[str, Any]:
    return {
        "engine": "mysql",
        "instance_id": instance_id,
        "port": port,
        "dbvend_wait_ready": False,
        **mysql.role_vars(settings, credentials),
    }


def rekey(port: int, settings: MysqlSettings, credentials: Credentials) -> None:
    slot = mysql.slot_settings(256)
    assert slot is not None
    asyncio.run(mysql.rekey(Rekey("127.0.0.1", port, slot, settings, credentials), 10))


def users(conn: pymysql.Connection) -> set[str]:
    return {row[0] for row in query(conn, "SELECT User FROM mysql.user WHERE Host = '%%'")}


def databases(conn: pymysql.Connection) -> set[str]:
    return {row[0] for row in query(conn, "SHOW DATABASES")}


def grants(conn: pymysql.Connection, user: str) -> list[str]:
    return [row[0] for row in query(conn, "SHOW GRANTS FOR %s@'%%'", user)]


@pytest.mark.slow
def test_slot_claim_converge_and_a_cold_twin(deployer: Deployer) -> None:
    admin = random_password()
    slot_id = deployer.new_id("ps")
    port = deployer.free_port()
    run = deployer.playbook("provision.yml", slot_vars(slot_id, port, admin))
    assert run.rc == 0, run.output[-3000:]
    init_file = deployer.tmp / "data" / slot_id / "init" / "dbvend.sql"
    assert "CREATE DATABASE" not in init_file.read_text()

    # A tenant-less slot: no database, no account but dbvend's; the claim account over the network.
    claim = connect_when_up(port, CLAIM_ACCOUNT, admin, "mysql")
    claim.autocommit(True)
    assert databases(claim) == SYSTEM
    assert users(claim) == {"dbvend_monitor", CLAIM_ACCOUNT}
    (claim_grants,) = grants(claim, CLAIM_ACCOUNT)
    for privilege in ("SUPER", "FILE", "PROCESS", "SHUTDOWN", "RELOAD"):
        assert privilege not in claim_grants
    # Leftovers of an earlier attempt that died half-way.
    query(claim, "CREATE DATABASE leftover")
    query(claim, "CREATE USER 'u_leftover'@'%%' IDENTIFIED BY 'x'")

    settings = mysql.parse_settings(
        {
            "charset": "latin1",
            "database": "shop_1",
            "max_connections": 150,
            "binlog_expire_logs_seconds": 7200,
        },
        instance_name="shop",
    )
    assert isinstance(settings, MysqlSettings)
    credentials = Credentials(random_username(), random_password(), admin)

    # The wrong admin secret: refused, and the message holds no secret.
    wrong = Credentials(credentials.username, credentials.password, random_password())
    with pytest.raises(RekeyFailed) as err:
        rekey(port, settings, wrong)
    assert str(err.value).startswith(f"cannot connect to 127.0.0.1:{port} as {CLAIM_ACCOUNT}")
    for secret in (wrong.admin_password, wrong.password, mysql_native_password(wrong.password)):
        assert secret not in str(err.value)

    rekey(port, settings, credentials)
    rekey(port, settings, credentials)  # a retry converges to the same state
    assert databases(claim) == SYSTEM | {"shop_1"}
    assert users(claim) == {"dbvend_monitor", CLAIM_ACCOUNT, credentials.username}

    # The readiness check the create runs, then the tenant's view.
    connection = mysql.connection(settings, credentials, "127.0.0.1", port)
    assert asyncio.run(mysql.server_version(connection, 10)).startswith("10.11")
    app = connect(port, credentials.username, credentials.password, "shop_1")
    app.autocommit(True)
    assert databases(app) == {"information_schema", "shop_1"}
    with pytest.raises(pymysql.err.OperationalError) as denied:
        query(app, "SELECT User FROM mysql.user")
    assert denied.value.args[0] == 1142  # SELECT command denied
    assert query(
        app,
        "SELECT DEFAULT_CHARACTER_SET_NAME, DEFAULT_COLLATION_NAME FROM information_schema.SCHEMATA"
        " WHERE SCHEMA_NAME = 'shop_1'",
    ) == [("latin1", "latin1_swedish_ci")]
    query(app, "CREATE TABLE t (id INT PRIMARY KEY)")
    query(app, "INSERT INTO t VALUES (1)")
    assert variables(app, "max_connections", "binlog_expire_logs_seconds") == {
        "max_connections": "150",
        "binlog_expire_logs_seconds": "7200",
    }

    # Converge: the instance's files, the claim account gone, the server charset set.
    converge_vars = instance_vars(slot_id, port, settings, credentials)
    run = deployer.playbook("converge.yml", converge_vars)
    assert run.rc == 0, run.output[-3000:]
    assert run.changed() >= 1
    assert report(run, slot_id)["port"] == port
    assert report(run, slot_id)["server_version"].startswith("10.11")
    with pytest.raises(pymysql.err.OperationalError) as gone:
        connect(port, CLAIM_ACCOUNT, admin)
    assert gone.value.args[0] == ACCESS_DENIED
    assert variables(app, "character_set_server", "collation_server", "max_connections") == {
        "character_set_server": "latin1",
        "collation_server": "latin1_swedish_ci",
        "max_connections": "150",
    }
    assert query(app, "SELECT id FROM t") == [(1,)]  # the tenant's session and data untouched
    assert_unchanged(deployer.playbook("converge.yml", converge_vars))
    assert_unchanged(deployer.playbook("provision.yml", converge_vars))

    # A cold instance of the same variables: the same files, the same account and grant.
    twin_id = deployer.new_id("pt")
    twin_port = deployer.free_port()
    run = deployer.playbook("provision.yml", instance_vars(twin_id, twin_port, settings, credentials))
    assert run.rc == 0, run.output[-3000:]
    twin_dir, slot_dir = deployer.tmp / "data" / twin_id, deployer.tmp / "data" / slot_id
    assert (slot_dir / "init" / "dbvend.sql").read_bytes() == (twin_dir / "init" / "dbvend.sql").read_bytes()
    slot_cnf = (slot_dir / "config" / "dbvend.cnf").read_text().replace(slot_id, "ID")
    assert slot_cnf == (twin_dir / "config" / "dbvend.cnf").read_text().replace(twin_id, "ID")
    twin_app = connect_when_up(twin_port, credentials.username, credentials.password, "shop_1")
    assert grants(app, credentials.username) == grants(twin_app, credentials.username)
    twin_app.close()

    # A restart keeps the account, its grant and the settings (from the conf.d file).
    before = grants(app, credentials.username)
    app.close()
    deployer.container(slot_id).restart(timeout=60)
    time.sleep(1)
    app = connect_when_up(port, credentials.username, credentials.password, "shop_1")
    assert grants(app, credentials.username) == before
    assert databases(app) == {"information_schema", "shop_1"}
    assert variables(app, "character_set_server", "max_connections", "binlog_expire_logs_seconds") == {
        "character_set_server": "latin1",
        "max_connections": "150",
        "binlog_expire_logs_seconds": "7200",
    }
    app.close()
    claim.close()
