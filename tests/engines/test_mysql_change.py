"""MysqlEngine's change rules: what a PATCH of settings applies live, what takes a restart,
what is refused (each refusal naming its field), and the variables the role gets."""

from __future__ import annotations

from typing import Any

import pytest

from service.engines import SettingsError, get_engine
from service.engines.base import Credentials
from service.engines.mysql import MysqlSettings

mysql = get_engine("mysql")


def current(**raw: Any) -> MysqlSettings:
    settings = mysql.parse_settings(raw, instance_name="orders")
    assert isinstance(settings, MysqlSettings)
    return settings


def refused(before: MysqlSettings, raw: dict[str, Any], *, convert: bool = False) -> dict[str, str]:
    with pytest.raises(SettingsError) as err:
        mysql.change_settings(before, raw, convert=convert, instance_name="orders")
    return {e.field: e.message for e in err.value.errors}


def test_new_settings_defaults_and_normalisation() -> None:
    settings = current()
    assert settings.binlog_format is None  # binary logging off
    assert settings.binlog_expire_logs_seconds == 604800
    assert current(binlog_format="mixed").binlog_format == "MIXED"
    role_vars = mysql.role_vars(current(binlog_format="Row"), mysql.new_credentials())
    assert role_vars["mysql_binlog_format"] == "ROW"
    assert role_vars["mysql_binlog_expire_logs_seconds"] == 604800


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ({"binlog_format": "rows"}, "settings.binlog_format"),
        ({"binlog_format": "ROW\n"}, "settings.binlog_format"),
        ({"binlog_format": 1}, "settings.binlog_format"),
        ({"binlog_format": "x" * 17}, "settings.binlog_format"),
        ({"binlog_expire_logs_seconds": 3599}, "settings.binlog_expire_logs_seconds"),
        ({"binlog_expire_logs_seconds": 7776001}, "settings.binlog_expire_logs_seconds"),
        ({"binlog_expire_logs_seconds": "3600"}, "settings.binlog_expire_logs_seconds"),
    ],
    ids=repr,
)
def test_bad_binlog_settings_name_their_field(raw: dict[str, Any], field: str) -> None:
    with pytest.raises(SettingsError) as err:
        mysql.parse_settings(raw, instance_name="orders")
    assert [e.field for e in err.value.errors] == [field]
    assert err.value.errors[0].message != "unknown setting"  # a known setting, a bad value
    assert field in refused(current(), raw)


def test_live_settings() -> None:
    change = mysql.change_settings(
        current(),
        {"max_connections": 300, "memory_mb": 512, "binlog_expire_logs_seconds": 3600},
        instance_name="orders",
    )
    assert change.live == ("memory_mb", "max_connections", "binlog_expire_logs_seconds")
    assert change.restart == ()
    assert change.after.model_dump()["memory_mb"] == 512


def test_binlog_format_is_live_only_while_binary_logging_stays_on() -> None:
    on = mysql.change_settings(current(), {"binlog_format": "row"}, instance_name="orders")
    assert (on.live, on.restart) == ((), ("binlog_format",))
    off = mysql.change_settings(current(binlog_format="ROW"), {"binlog_format": None}, instance_name="orders")
    assert (off.live, off.restart) == ((), ("binlog_format",))
    fmt = mysql.change_settings(
        current(binlog_format="ROW"), {"binlog_format": "mixed"}, instance_name="orders"
    )
    assert (fmt.live, fmt.restart) == (("binlog_format",), ())
    same = mysql.change_settings(
        current(binlog_format="ROW"), {"binlog_format": "row"}, instance_name="orders"
    )
    assert same.changed == ()


def test_renaming_the_database_is_refused() -> None:
    errors = refused(current(), {"database": "other"})
    assert list(errors) == ["settings.database"]
    assert "renamed" in errors["settings.database"]


@pytest.mark.parametrize(
    ("raw", "fields"),
    [
        ({"charset": "latin1"}, ["settings.charset", "settings.collation"]),
        ({"collation": "utf8mb4_bin"}, ["settings.collation"]),
        ({"charset": "latin1", "collation": "latin1_bin"}, ["settings.charset", "settings.collation"]),
    ],
    ids=repr,
)
def test_charset_change_needs_convert(raw: dict[str, Any], fields: list[str]) -> None:
    errors = refused(current(), raw)
    assert sorted(errors) == fields
    assert all('"convert": true' in message for message in errors.values())


def test_charset_change_with_convert_is_live_and_takes_the_charsets_collation() -> None:
    change = mysql.change_settings(current(), {"charset": "latin1"}, convert=True, instance_name="orders")
    assert change.after.model_dump()["collation"] == "latin1_swedish_ci"
    assert change.live == ("charset", "collation")
    assert change.convert is True
    assert mysql.reconfigure_vars(change) == {"mysql_convert": True}


def test_the_same_charset_spelled_otherwise_keeps_the_collation() -> None:
    before = current(collation="utf8mb4_bin")
    change = mysql.change_settings(before, {"charset": "UTF8MB4"}, instance_name="orders")
    assert change.changed == ()
    assert change.after.model_dump()["collation"] == "utf8mb4_bin"


def test_unknown_and_refused_settings_together_name_their_fields() -> None:
    assert "settings.bogus" in refused(current(), {"bogus": 1})
    assert "settings.memory_mb" in refused(current(), {"memory_mb": 10})


def test_no_password_grace() -> None:
    assert mysql.password_grace is False
    old = Credentials("u_a", "old-password-1", "admin-1")
    new = Credentials("u_a", "new-password-2", "admin-1")
    assert mysql.rotate_vars(old, new, grace_seconds=0) == {"mysql_password_grace_seconds": 0}
    with pytest.raises(SettingsError) as err:
        mysql.rotate_vars(old, new, grace_seconds=30)
    assert [e.field for e in err.value.errors] == ["grace_seconds"]
    assert "no dual passwords" in err.value.errors[0].message
