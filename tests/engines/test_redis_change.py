"""The Redis engine's change rules: every setting is live, appendfsync is validated like the
others, and rotate gives the role the old password's hash only during a grace period."""

from __future__ import annotations

import hashlib
import json

import pytest

from service.engines import SettingsError
from service.engines.base import Credentials
from service.engines.redis import MIB, RedisEngine, RedisSettings

engine = RedisEngine()


def current(**raw: object) -> RedisSettings:
    settings = engine.parse_settings(dict(raw), instance_name="cache")
    assert isinstance(settings, RedisSettings)
    return settings


def test_appendfsync_defaults_to_everysec_and_reaches_the_role() -> None:
    settings = current()
    assert settings.appendfsync == "everysec"
    role_vars = engine.role_vars(current(appendfsync="always"), engine.new_credentials())
    assert role_vars["redis_appendfsync"] == "always"


@pytest.mark.parametrize("value", ["sometimes", "ALWAYS", "always\n", "", 1, True, None])
def test_bad_appendfsync_names_the_field(value: object) -> None:
    with pytest.raises(SettingsError) as err:
        engine.parse_settings({"appendfsync": value}, instance_name="cache")
    assert [e.field for e in err.value.errors] == ["settings.appendfsync"]


def test_every_setting_changes_live() -> None:
    change = engine.change_settings(
        current(),
        {
            "maxmemory": "256mb",
            "maxmemory_policy": "allkeys-lru",
            "maxclients": 500,
            "appendonly": True,
            "appendfsync": "always",
        },
        instance_name="cache",
    )
    assert change.live == ("maxmemory", "maxmemory_policy", "appendonly", "appendfsync", "maxclients")
    assert change.restart == ()
    assert isinstance(change.after, RedisSettings)
    assert change.after.maxmemory == 256 * MIB
    assert engine.reconfigure_vars(change) == {}


def test_unchanged_keys_are_not_reported() -> None:
    before = current(maxclients=500)
    change = engine.change_settings(before, {"maxclients": 500, "appendfsync": "no"}, instance_name="cache")
    assert change.changed == ("appendfsync",)


def test_a_change_is_validated_like_a_create() -> None:
    with pytest.raises(SettingsError) as err:
        engine.change_settings(current(), {"maxmemory": "1mb", "save": "60 1"}, instance_name="cache")
    assert {e.field for e in err.value.errors} == {"settings.maxmemory", "settings.save"}


def test_password_grace_keeps_only_the_old_hash() -> None:
    assert engine.password_grace is True
    old = Credentials("u_abcdefgh", "old-password-1", "admin-password")
    new = Credentials("u_abcdefgh", "new-password-2", "admin-password")
    with_grace = engine.rotate_vars(old, new, grace_seconds=300)
    assert with_grace == {"redis_password_grace_hash": hashlib.sha256(b"old-password-1").hexdigest()}
    assert engine.rotate_vars(old, new, grace_seconds=0) == {"redis_password_grace_hash": ""}
    # The role refuses a grace hash equal to the new one; the engine never sends it.
    assert engine.rotate_vars(old, old, grace_seconds=300) == {"redis_password_grace_hash": ""}
    text = json.dumps({**engine.role_vars(current(), new), **with_grace})
    for secret in (old.password, new.password, new.admin_password):
        assert secret not in text
    with pytest.raises(ValueError, match="grace_seconds"):
        engine.rotate_vars(old, new, grace_seconds=-1)
