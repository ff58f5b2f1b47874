"""The pool's configuration and sizing, without Docker: dbvend_pool validated at load
(naming the host), Redis size classes, and the shared application-account rule."""

from __future__ import annotations

from typing import Any

import pytest

from service.engines.redis import RedisEngine, container_memory_mb
from service.engines.redis_client import app_acl
from service.inventory import InventoryError, hosts_from_listing
from tests.helpers import ROOT


def listing(pool: Any) -> dict[str, Any]:
    host = {
        "dbvend_address": "10.0.0.1",
        "dbvend_port_range": [20000, 20099],
        "dbvend_capacity_mb": 4096,
        "dbvend_data_root": "/srv",
        "dbvend_pool": pool,
    }
    return {"dbvend_hosts": {"hosts": ["h1"]}, "_meta": {"hostvars": {"h1": host}}}


def test_pool_counts_and_classes() -> None:
    (host,) = hosts_from_listing(listing({"redis": 3}))
    assert host.pool == {"redis": {192: 3}}
    (host,) = hosts_from_listing(listing({"redis": {192: 2, "320": 1, 640: 0}}))
    assert host.pool == {"redis": {192: 2, 320: 1}}
    (host,) = hosts_from_listing(listing(None))
    assert host.pool == {}


@pytest.mark.parametrize(
    ("pool", "words"),
    [
        ({"postgres": 1}, "engine 'postgres'"),
        ({"redis": -1}, "dbvend_pool redis must be a count"),
        ({"redis": True}, "must be a count"),
        ({"redis": "2"}, "must be a count"),
        ({"redis": {321: 1}}, "class 321 MB"),
        ({"redis": {"x": 1}}, "classes are memory MB"),
        ({"redis": 10_000}, "must be a count"),
        (["redis"], "must be a mapping"),
    ],
)
def test_bad_pools_are_refused_naming_the_host(pool: Any, words: str) -> None:
    with pytest.raises(InventoryError, match="host 'h1'") as exc:
        hosts_from_listing(listing(pool))
    assert words in str(exc.value)


@pytest.mark.parametrize("mb", [72, 100, 192, 320, 400, 640, 1280, 5120])
def test_redis_slot_settings_size_the_container_exactly(mb: int) -> None:
    settings = RedisEngine().slot_settings(mb)
    assert settings is not None
    assert RedisEngine().memory_mb(settings) == mb


@pytest.mark.parametrize("mb", [1, 64, 71, 321, 10**7])
def test_redis_refuses_classes_no_maxmemory_gives(mb: int) -> None:
    assert RedisEngine().slot_settings(mb) is None


def test_every_redis_setting_of_the_class_is_claimable() -> None:
    engine = RedisEngine()
    slot = engine.slot_settings(192)
    assert slot is not None
    wanted = engine.parse_settings(
        {"maxmemory_policy": "allkeys-lfu", "appendonly": True, "maxclients": 5}, instance_name="x"
    )
    assert engine.claimable(slot, wanted)
    bigger = engine.parse_settings({"maxmemory": "256mb"}, instance_name="x")
    assert container_memory_mb(256 * 1024 * 1024) == 320
    assert not engine.claimable(slot, bigger)
    # A smaller size: the claim sets maxmemory live, converge the container's limit.
    smaller = engine.parse_settings({"maxmemory": "32mb", "maxclients": 5}, instance_name="x")
    assert engine.memory_mb(smaller) == 96
    assert engine.claimable(slot, smaller)


def test_the_claim_and_the_role_give_the_application_account_one_rule() -> None:
    """users.acl.j2 reads the rule from the same file the claim does."""
    template = (ROOT / "roles" / "redis" / "templates" / "users.acl.j2").read_text()
    assert "lookup('ansible.builtin.file', 'app-acl.rules')" in template
    rules = app_acl()
    assert rules[:3] == ["+@all", "-@admin", "-@dangerous"]
    assert "-config" in rules
    assert "-acl" in rules


def test_pool_settings_are_checked_at_startup(tmp_path: Any) -> None:
    from service.config import ConfigError
    from tests.helpers import service_env, settings_from_env, write_inventory

    env = service_env("postgresql://x@127.0.0.1/x", tmp_path / "state", write_inventory(tmp_path / "inv"))
    settings = settings_from_env(env)
    assert settings.pool_enabled
    assert settings.pool_interval == 5.0
    assert not settings_from_env({**env, "DBVEND_POOL": "OFF"}).pool_enabled
    with pytest.raises(ConfigError, match="DBVEND_POOL must be on or off"):
        settings_from_env({**env, "DBVEND_POOL": "maybe"})
    with pytest.raises(ConfigError, match="DBVEND_POOL_INTERVAL"):
        settings_from_env({**env, "DBVEND_POOL_INTERVAL": "0"})
