"""playbooks/bind.yml and unbind.yml run like ops run them, on real servers with real
clients: the extra user has exactly the application account's rights (MySQL: ALL on the
database, nothing global; Redis: the same ACL rule), a second run changes nothing, the
role's own rewrites of its files (rotate.yml) and a `docker restart` keep the user, unbind
removes exactly it and ends its connections, and a name of another shape is refused."""

from __future__ import annotations

import hashlib
import time
from typing import Any

import pymysql
import pytest
import redis

from service.engines.mysql import mysql_native_password
from tests.roles.conftest import Deployer, Run, password

BOUND = "b_0123456789ab"


def _ok(run: Run, *, changed: bool) -> None:
    assert run.rc == 0, run.output[-3000:]
    assert (run.changed() > 0) == changed, run.output[-3000:]


def sha(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _redis(port: int, user: str, secret: str) -> redis.Redis:
    return redis.Redis(
        host="127.0.0.1",
        port=port,
        username=user,
        password=secret,
        socket_timeout=10,
        decode_responses=True,
        single_connection_client=True,
    )


def _acl_rule(admin: redis.Redis, user: str) -> tuple[Any, Any, Any]:
    got = admin.acl_getuser(user)
    return got["commands"], got["keys"], got["channels"]


@pytest.mark.slow
def test_redis_bind_unbind_idempotent_kept_by_rewrites_and_restart(deployer: Deployer) -> None:
    instance_id = deployer.new_id("bind")
    port = deployer.free_port()
    app_pw, admin_pw, cred_pw = password(), password(), password()
    base = {
        "engine": "redis",
        "instance_id": instance_id,
        "port": port,
        "redis_username": "u_app",
        "redis_password_hash": sha(app_pw),
        "redis_admin_password_hash": sha(admin_pw),
        "dbvend_wait_ready": False,
    }
    deployer.provision(
        "redis", instance_id, **{k: v for k, v in base.items() if k not in ("engine", "instance_id")}
    )
    admin = _redis(port, "dbvend-admin", admin_pw)
    for _ in range(100):
        try:
            admin.ping()
            break
        except redis.exceptions.ConnectionError:
            time.sleep(0.2)
    bind = {**base, "redis_credential_username": BOUND, "redis_credential_password_hash": sha(cred_pw)}

    _ok(deployer.playbook("bind.yml", bind), changed=True)
    _ok(deployer.playbook("bind.yml", bind), changed=False)
    client = _redis(port, BOUND, cred_pw)
    client.set("k", "v")
    assert _acl_rule(admin, BOUND) == _acl_rule(admin, "u_app")
    with pytest.raises(redis.exceptions.NoPermissionError):
        client.config_get("maxmemory")
    acl_file = deployer.tmp / "data" / instance_id / "config" / "users.acl"
    assert cred_pw not in acl_file.read_text()
    assert f"user {BOUND} on #{sha(cred_pw)} " in acl_file.read_text()

    # rotate.yml rewrites users.acl from the template: the extra user's line stays, and a
    # restart (the server reads the file) keeps the user.
    _ok(deployer.playbook("rotate.yml", base), changed=False)
    assert f"user {BOUND} " in acl_file.read_text()
    deployer.container(instance_id).restart()
    for _ in range(100):
        try:
            assert _redis(port, BOUND, cred_pw).get("k") == "v"
            break
        except redis.exceptions.ConnectionError:
            time.sleep(0.2)
    held = _redis(port, BOUND, cred_pw)
    held.ping()

    _ok(deployer.playbook("unbind.yml", {**base, "redis_credential_username": BOUND}), changed=True)
    _ok(deployer.playbook("unbind.yml", {**base, "redis_credential_username": BOUND}), changed=False)
    with pytest.raises(redis.exceptions.RedisError):
        held.ping()
    with pytest.raises(redis.exceptions.AuthenticationError):
        _redis(port, BOUND, cred_pw).ping()
    assert f"user {BOUND} " not in acl_file.read_text()
    assert _redis(port, "u_app", app_pw).get("k") == "v"

    # Only the service's shape of name: never the application or admin account.
    for name in ("u_app", "dbvend-admin", "b_0123456789ab\n", "b_short"):
        refused = deployer.playbook("unbind.yml", {**base, "redis_credential_username": name})
        assert refused.rc != 0
        assert "redis_credential_username must be" in refused.output
    assert _redis(port, "u_app", app_pw).ping()


def _mysql(port: int, user: str, secret: str, database: str | None = "crd") -> pymysql.Connection[Any]:
    deadline = time.monotonic() + 120
    while True:
        try:
            return pymysql.connect(
                host="127.0.0.1",
                port=port,
                user=user,
                password=secret,
                database=database,
                connect_timeout=10,
                read_timeout=10,
                autocommit=True,
            )
        except pymysql.err.OperationalError as exc:
            # Only a server not up yet (2002/2003 cannot connect, 2013 lost) is waited for;
            # access denied (1044, 1045) is the answer.
            if exc.args[0] not in (2002, 2003, 2013) or time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def _rows(conn: pymysql.Connection[Any], sql: str) -> list[tuple[Any, ...]]:
    with conn.cursor() as cur:
        cur.execute(sql)
        return list(cur.fetchall())


@pytest.mark.slow
def test_mysql_bind_unbind_grant_idempotent_and_restart(deployer: Deployer) -> None:
    instance_id = deployer.new_id("bind")
    port = deployer.free_port()
    app_pw, root_pw, cred_pw = password(), password(), password()
    base = {"engine": "mysql", "instance_id": instance_id, "mysql_database": "crd"}
    deployer.provision(
        "mysql",
        instance_id,
        port=port,
        mysql_username="u_app",
        mysql_database="crd",
        mysql_password=app_pw,
        mysql_root_password=root_pw,
    )
    app = _mysql(port, "u_app", app_pw)
    bind = {
        **base,
        "mysql_password": app_pw,
        "mysql_root_password": root_pw,
        "mysql_username": "u_app",
        "mysql_credential_username": BOUND,
        "mysql_credential_password_hash": mysql_native_password(cred_pw),
    }
    _ok(deployer.playbook("bind.yml", bind), changed=True)
    _ok(deployer.playbook("bind.yml", bind), changed=False)
    cred = _mysql(port, BOUND, cred_pw)
    _rows(cred, "CREATE TABLE t (v int)")
    _rows(cred, "INSERT INTO t VALUES (1)")
    assert _rows(app, "SELECT v FROM t") == [(1,)]
    grants = [g for (g,) in _rows(cred, "SHOW GRANTS")]
    assert grants == [
        f"GRANT USAGE ON *.* TO `{BOUND}`@`%` IDENTIFIED BY PASSWORD '{mysql_native_password(cred_pw)}'",
        f"GRANT ALL PRIVILEGES ON `crd`.* TO `{BOUND}`@`%`",
    ]
    with pytest.raises(pymysql.err.OperationalError):
        _mysql(port, BOUND, cred_pw, database="mysql")

    deployer.container(instance_id).restart()
    cred = _mysql(port, BOUND, cred_pw)
    assert _rows(cred, "SELECT v FROM t") == [(1,)]

    unbind = {**bind, "mysql_credential_password_hash": ""}
    _ok(deployer.playbook("unbind.yml", unbind), changed=True)
    _ok(deployer.playbook("unbind.yml", unbind), changed=False)
    with pytest.raises(pymysql.err.MySQLError):
        _rows(cred, "SELECT 1")
    with pytest.raises(pymysql.err.OperationalError):
        _mysql(port, BOUND, cred_pw)
    app = _mysql(port, "u_app", app_pw)
    assert _rows(app, "SELECT v FROM t") == [(1,)]
    refused = deployer.playbook("unbind.yml", {**unbind, "mysql_credential_username": "u_app"})
    assert refused.rc != 0
    assert "mysql_credential_username must be" in refused.output
