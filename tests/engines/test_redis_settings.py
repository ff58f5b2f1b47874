from __future__ import annotations

import time

import pytest

from service.engines import SettingsError, get_engine
from service.engines.redis import MIB, container_memory_mb, parse_size

redis = get_engine("redis")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("64mb", 64 * MIB),
        ("1gb", 1024 * MIB),
        ("100m", 100_000_000),
        (" 2GB ", 2048 * MIB),
        (9000000, 9000000),
    ],
)
def test_sizes_read_like_redis_conf(raw: int | str, expected: int) -> None:
    assert parse_size(raw) == expected


def test_settings_normalise_maxmemory_to_bytes() -> None:
    settings = redis.parse_settings({"maxmemory": "256mb", "appendonly": True}, instance_name="x")
    dumped = settings.model_dump()
    assert dumped["maxmemory"] == 256 * MIB
    assert dumped["appendonly"] is True
    assert dumped["maxmemory_policy"] == "noeviction"


def test_container_limit_sits_above_maxmemory() -> None:
    assert container_memory_mb(256 * MIB) == 256 + 64
    assert container_memory_mb(1024 * MIB) == 1024 + 256
    settings = redis.parse_settings({"maxmemory": "256mb"}, instance_name="x")
    assert redis.memory_mb(settings) > 256


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ({"maxmemory": "lots"}, "settings.maxmemory"),
        ({"maxmemory": "1mb"}, "settings.maxmemory"),
        ({"maxmemory": True}, "settings.maxmemory"),
        ({"maxmemory_policy": "lru"}, "settings.maxmemory_policy"),
        ({"appendonly": "yes"}, "settings.appendonly"),
        ({"maxclients": 0}, "settings.maxclients"),
        ({"save": "900 1"}, "settings.save"),
    ],
)
def test_bad_settings_name_the_field(raw: dict[str, object], field: str) -> None:
    with pytest.raises(SettingsError) as err:
        redis.parse_settings(raw, instance_name="x")
    assert field in {e.field for e in err.value.errors}


def test_every_redis_policy_is_accepted() -> None:
    for policy in (
        "noeviction",
        "allkeys-lru",
        "allkeys-lfu",
        "allkeys-random",
        "volatile-lru",
        "volatile-lfu",
        "volatile-random",
        "volatile-ttl",
    ):
        redis.parse_settings({"maxmemory_policy": policy}, instance_name="x")


def test_unknown_engine_is_a_field_error() -> None:
    with pytest.raises(SettingsError) as err:
        get_engine("postgres")
    assert err.value.errors[0].field == "engine"


@pytest.mark.parametrize(
    "raw",
    [
        "1" + " " * 20_000 + "!",
        "1" + " " * 65_000 + "mb",
        " " * 40 + "64mb",
        "64mb\n",
        "64\nmb",
        "\u0661\u0662\u0668mb",  # Arabic-Indic digits: \d and int() would read them
        "64 m b",
        "64mbx",
        "0x40",
        "1_000",
        "",
        "mb",
    ],
)
def test_sizes_that_are_not_sizes_are_refused(raw: str) -> None:
    with pytest.raises(ValueError, match="must be a size"):
        parse_size(raw)


def test_a_long_run_of_spaces_is_refused_at_once() -> None:
    # The old pattern (\s*(\d+)\s*([a-zA-Z]*)\s*$) backtracked: ~15 s for 64 KiB.
    started = time.perf_counter()
    for _ in range(100):
        with pytest.raises(SettingsError):
            redis.parse_settings({"maxmemory": "1" + " " * 65_000 + "!"}, instance_name="x")
    assert time.perf_counter() - started < 1.0
