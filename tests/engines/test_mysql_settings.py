from __future__ import annotations

import pytest

from service.engines import SettingsError, get_engine
from service.engines.mysql import MysqlSettings, reserved_database
from service.engines.mysql_charsets import CHARSETS

mysql = get_engine("mysql")


def fields(raw: dict[str, object]) -> dict[str, str]:
    with pytest.raises(SettingsError) as err:
        mysql.parse_settings(raw, instance_name="orders")
    return {e.field: e.message for e in err.value.errors}


def test_defaults_follow_the_charset_and_the_name() -> None:
    settings = mysql.parse_settings(None, instance_name="orders-eu")
    assert isinstance(settings, MysqlSettings)
    assert settings.charset == "utf8mb4"
    assert settings.collation == CHARSETS["utf8mb4"][0]
    assert settings.database == "orders_eu"
    assert settings.memory_mb == 256
    assert settings.max_connections == 100


def test_collation_defaults_to_the_charsets_own() -> None:
    settings = mysql.parse_settings({"charset": "latin1"}, instance_name="x")
    assert settings.model_dump()["collation"] == "latin1_swedish_ci"


def test_utf8_is_read_as_utf8mb3_like_the_server_does() -> None:
    assert mysql.parse_settings({"charset": "UTF8"}, instance_name="x").model_dump()["charset"] == "utf8mb3"


@pytest.mark.parametrize(
    ("raw", "field", "fragment"),
    [
        ({"charset": "klingon"}, "settings.charset", "unknown character set"),
        ({"charset": "latin1", "collation": "utf8mb4_bin"}, "settings.collation", "does not belong"),
        ({"collation": "no_such_ci"}, "settings.collation", "does not belong"),
        ({"memory_mb": 16}, "settings.memory_mb", "greater than or equal"),
        ({"memory_mb": "256"}, "settings.memory_mb", "integer"),
        ({"max_connections": 0}, "settings.max_connections", "greater than or equal"),
        ({"database": "bad-name;"}, "settings.database", "letters, digits or underscores"),
        ({"database": "mysql"}, "settings.database", "system database"),
        ({"engine_version": "8"}, "settings.engine_version", "unknown setting"),
    ],
)
def test_bad_settings_name_the_field(raw: dict[str, object], field: str, fragment: str) -> None:
    errors = fields(raw)
    assert field in errors
    assert fragment in errors[field]


def test_role_vars_carry_settings_and_credentials() -> None:
    settings = mysql.parse_settings(
        {"charset": "utf8mb4", "collation": "utf8mb4_unicode_ci"}, instance_name="o"
    )
    creds = mysql.new_credentials()
    role_vars = mysql.role_vars(settings, creds)
    assert role_vars["mysql_collation"] == "utf8mb4_unicode_ci"
    assert role_vars["mysql_username"] == creds.username
    assert creds.password != creds.admin_password
    assert len(creds.password) >= 32


def test_connection_never_shows_the_root_password() -> None:
    settings = mysql.parse_settings(None, instance_name="orders")
    creds = mysql.new_credentials()
    conn = mysql.connection(settings, creds, "127.0.0.1", 20001)
    assert conn["uri"] == f"mysql://{creds.username}:{creds.password}@127.0.0.1:20001/orders"
    assert creds.admin_password not in str(conn)


@pytest.mark.parametrize(
    "database",
    [
        "mysql\n",
        "mysql\r",
        "MYSQL",
        "Mysql",
        "sys",
        "SYS",
        "information_schema",
        "PERFORMANCE_SCHEMA",
        "#mysql50#x",
        "#MySQL50#orders",
        " mysql",
        "mysql ",
        "orders\n",
        "orders;",
        "",
        "x" * 65,
        "\uff4dysql",  # a fullwidth letter: not ASCII
    ],
)
def test_database_names_are_matched_whole_and_never_a_system_one(database: str) -> None:
    assert "settings.database" in fields({"database": database})


def test_reserved_names_are_normalised_before_the_check() -> None:
    for name in ("mysql\n", " MYSQL ", "Sys", "#mysql50#anything", "information_schema"):
        assert reserved_database(name), name
    for name in ("mysql_app", "sysadmin", "my_sql", "orders"):
        assert not reserved_database(name), name


@pytest.mark.parametrize(
    ("instance_name", "database"),
    [
        ("mysql", "mysql_db"),
        ("sys", "sys_db"),
        ("information-schema", "information_schema_db"),
        ("performance-schema", "performance_schema_db"),
        ("orders-eu", "orders_eu"),
    ],
)
def test_a_database_named_after_the_instance_is_never_a_system_one(instance_name: str, database: str) -> None:
    settings = mysql.parse_settings(None, instance_name=instance_name)
    assert settings.model_dump()["database"] == database


def test_charset_and_collation_lengths_are_bounded() -> None:
    assert "settings.charset" in fields({"charset": "x" * 10_000})
    assert "settings.collation" in fields({"collation": "x" * 10_000})
