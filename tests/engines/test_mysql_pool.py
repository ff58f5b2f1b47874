"""MysqlEngine's warm-pool hooks without a server: the settings a slot of a size class is
deployed with, which creates can claim such a slot, that a claim grants exactly what the
role grants, and that a claim refuses names it cannot write into SQL before connecting."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar, trust_as_template

from service.engines import Rekey, RekeyFailed, get_engine
from service.engines.base import Credentials
from service.engines.mysql import MysqlSettings, buffer_pool_bytes, mysql_native_password
from service.engines.mysql_rekey import (
    KEEP_ACCOUNTS,
    RESIZE_PROCEDURE,
    Tenant,
    _statements,
    application_grant,
)

ROLE_VARS = Path(__file__).resolve().parents[2] / "roles" / "mysql" / "vars" / "main.yml"
ROLE_DEFAULTS = ROLE_VARS.parents[1] / "defaults" / "main.yml"
mysql = get_engine("mysql")


def wanted(**raw: Any) -> MysqlSettings:
    settings = mysql.parse_settings(raw, instance_name="orders")
    assert isinstance(settings, MysqlSettings)
    return settings


def slot(memory_mb: int = 256) -> MysqlSettings:
    settings = mysql.slot_settings(memory_mb)
    assert isinstance(settings, MysqlSettings)
    return settings


def test_slot_settings_are_the_defaults_sized_to_the_class() -> None:
    default = slot()
    assert default.memory_mb == 256 == MysqlSettings().memory_mb
    assert default.charset == "utf8mb4"
    assert default.collation  # complete: role_vars can use it
    assert default.binlog_format is None
    assert default.max_connections == MysqlSettings().max_connections
    assert slot(1024).memory_mb == 1024
    # A stored slot's settings load back as they were (pool_slots.settings).
    assert mysql.load_settings(default.model_dump()) == default
    # Sizes no instance can have: no slot class.
    assert mysql.slot_settings(100) is None
    assert mysql.slot_settings(70000) is None
    role_vars = mysql.role_vars(default, mysql.new_credentials())
    assert role_vars["mysql_memory_mb"] == 256


@pytest.mark.parametrize(
    ("raw", "claimable"),
    [
        ({}, True),
        ({"charset": "latin1"}, True),
        ({"charset": "latin1", "collation": "latin1_bin", "database": "shop"}, True),
        ({"max_connections": 500, "binlog_expire_logs_seconds": 7200}, True),
        ({"memory_mb": 512}, False),
        # A smaller instance: the claim shrinks the buffer pool, converge the container.
        ({"memory_mb": 192}, True),
        # Binary logging switched on: log-bin is read at start only.
        ({"binlog_format": "ROW"}, False),
    ],
)
def test_claimable(raw: dict[str, Any], claimable: bool) -> None:
    assert mysql.claimable(slot(), wanted(**raw)) is claimable


def test_claimable_binlog_format_alone_while_logging_stays_on() -> None:
    logging_slot = slot().model_copy(update={"binlog_format": "ROW"})
    assert mysql.claimable(logging_slot, wanted(binlog_format="MIXED"))
    assert not mysql.claimable(logging_slot, wanted())  # switched off


def _role_template(name: str, **variables: Any) -> str:
    """A variable of the role's vars/main.yml as Ansible renders it."""
    template = yaml.safe_load(ROLE_VARS.read_text())[name]
    return str(Templar(loader=DataLoader(), variables=variables).template(trust_as_template(template)))


@pytest.mark.parametrize(("database", "username"), [("shop_1", "u_abc12345"), ("Orders", "app.x-1")])
def test_claim_grants_what_the_role_grants(database: str, username: str) -> None:
    role = _role_template("__mysql_app_grant_sql", mysql_database=database, mysql_username=username)
    assert application_grant(database, username) == role.strip()
    assert "`shop\\_1`" in application_grant("shop_1", "u")


def test_claim_keeps_the_role_accounts() -> None:
    defaults = yaml.safe_load(ROLE_DEFAULTS.read_text())
    assert defaults["mysql_claim_username"] in KEEP_ACCOUNTS
    assert defaults["mysql_monitor_username"] in KEEP_ACCOUNTS


def _target(username: str, settings: MysqlSettings | None = None) -> Rekey:
    return Rekey(
        address="127.0.0.1",
        port=1,  # nothing listens: a check that connected would fail differently
        slot_settings=slot(),
        settings=settings or wanted(),
        credentials=Credentials(username, "secret-Password-1", "admin-Secret-2"),
    )


@pytest.mark.parametrize("username", ["u'; DROP USER root; --", "root", "DBVEND_CLAIM", "u\n", "x" * 81])
async def test_rekey_refuses_names_before_connecting(username: str) -> None:
    with pytest.raises(RekeyFailed, match="user name cannot be used"):
        await mysql.rekey(_target(username), 5)


async def test_rekey_refuses_unclaimable_settings() -> None:
    with pytest.raises(RekeyFailed, match="cannot be claimed"):
        await mysql.rekey(_target("u_abc", wanted(memory_mb=512)), 5)


async def test_rekey_failure_names_no_secret() -> None:
    with pytest.raises(RekeyFailed) as err:
        await mysql.rekey(_target("u_abc"), 5)
    message = str(err.value)
    assert "127.0.0.1:1" in message
    for secret in ("secret-Password-1", "admin-Secret-2", mysql_native_password("secret-Password-1")):
        assert secret not in message


def _tenant(buffer_pool: int | None) -> Tenant:
    password_hash = mysql_native_password("x")
    charset = ("utf8mb4", "utf8mb4_general_ci")
    return Tenant("shop", *charset, "u_abc", password_hash, 100, None, 3600, buffer_pool)


class _Escaping:
    def escape(self, name: str) -> str:
        return "'" + name.replace("'", "''") + "'"


def test_a_smaller_claim_shrinks_the_buffer_pool_through_roots_procedure() -> None:
    """SET GLOBAL innodb_buffer_pool_size needs SUPER, which the claim account lacks: the
    claim calls the procedure the role makes for it (same name), only when the sizes differ."""
    role = _role_template("__mysql_resize_procedure")
    assert role.strip() == RESIZE_PROCEDURE
    sql = _role_template("__mysql_resize_sql", __mysql_resize_procedure=RESIZE_PROCEDURE)
    assert "SQL SECURITY DEFINER SET GLOBAL innodb_buffer_pool_size = bytes" in sql
    assert buffer_pool_bytes(192) == 96 * 1024 * 1024
    assert buffer_pool_bytes(40) == 32 * 1024 * 1024
    steps = [s for _, s in _statements(_tenant(buffer_pool_bytes(192)), [], _Escaping())]
    assert steps[-1] == f"CALL {RESIZE_PROCEDURE}({96 * 1024 * 1024})"
    assert not any("CALL" in s for _, s in _statements(_tenant(None), [], _Escaping()))
