"""What the engines hand Ansible: hashes of the instance's passwords, never the passwords
(so no file Ansible writes can hold one), and a CPU limit derived from the memory limit."""

from __future__ import annotations

import hashlib
import json

import pytest

from service.engines.base import Credentials, cpus_for_memory
from service.engines.mysql import MysqlEngine, mysql_native_password
from service.engines.redis import RedisEngine


def test_mysql_native_password_is_what_mariadb_stores() -> None:
    # SELECT PASSWORD('rootpw') on MariaDB 10.11.
    assert mysql_native_password("rootpw") == "*79D0CF9A6A052105DA1E1181406C34FC87AAC89D"


@pytest.mark.parametrize("engine", [MysqlEngine(), RedisEngine()], ids=lambda e: e.name)
def test_role_vars_hold_hashes_not_passwords(engine: MysqlEngine | RedisEngine) -> None:
    creds = Credentials("u_abcdefgh", "p" * 8 + "Password1", "a" * 8 + "AdminPass2")
    settings = engine.parse_settings(None, instance_name="orders")
    text = json.dumps(engine.role_vars(settings, creds))
    assert creds.password not in text
    assert creds.admin_password not in text


def test_mysql_role_vars_hashes() -> None:
    creds = MysqlEngine().new_credentials()
    role_vars = MysqlEngine().role_vars(MysqlEngine().parse_settings(None, instance_name="o"), creds)
    assert role_vars["mysql_password_hash"] == mysql_native_password(creds.password)
    assert role_vars["mysql_root_password_hash"] == mysql_native_password(creds.admin_password)
    assert "mysql_password" not in role_vars
    assert "mysql_root_password" not in role_vars


def test_redis_role_vars_hashes() -> None:
    creds = RedisEngine().new_credentials()
    role_vars = RedisEngine().role_vars(RedisEngine().parse_settings(None, instance_name="o"), creds)
    assert role_vars["redis_password_hash"] == hashlib.sha256(creds.password.encode()).hexdigest()
    assert role_vars["redis_admin_password_hash"] == hashlib.sha256(creds.admin_password.encode()).hexdigest()


@pytest.mark.parametrize(
    ("memory_mb", "cpus"),
    [(64, 0.5), (256, 0.5), (512, 0.5), (513, 1.0), (1024, 1.0), (1500, 1.5), (4096, 4.0)],
)
def test_cpus_follow_memory(memory_mb: int, cpus: float) -> None:
    assert cpus_for_memory(memory_mb) == cpus


def test_engines_pass_the_cpus() -> None:
    mysql = MysqlEngine()
    assert (
        mysql.role_vars(
            mysql.parse_settings({"memory_mb": 2048}, instance_name="o"), mysql.new_credentials()
        )["mysql_cpus"]
        == 2.0
    )
    redis = RedisEngine()
    settings = redis.parse_settings({"maxmemory": "1gb"}, instance_name="o")
    # container memory = 1 GiB + 256 MiB headroom -> 1280 MiB -> 1.5 CPUs
    assert redis.role_vars(settings, redis.new_credentials())["redis_cpus"] == 1.5
