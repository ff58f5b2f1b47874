"""Day-2 operations of roles/redis with a real server and redis-py: settings live in files on
the host, reconfigure.yml changes all five settings live (same container, an open connection
keeps working, the memory limit follows) and they survive `docker restart`; rotate.yml without
and with a grace period; every run idempotent; data kept throughout."""

from __future__ import annotations

import hashlib
import stat
import time
from typing import Any

import pytest
import redis

from tests.roles.conftest import Deployer, host_vars, password
from tests.roles.test_playbooks import run_like_the_service

MIB = 1024 * 1024


def sha(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def connect(port: int, username: str, secret: str) -> redis.Redis:
    # One connection, never silently replaced: CLIENT ID tells whether it is the same one.
    return redis.Redis(
        host="127.0.0.1",
        port=port,
        username=username,
        password=secret,
        socket_timeout=15,
        decode_responses=True,
        single_connection_client=True,
    )


def client_ids(admin: redis.Redis, user: str) -> set[int]:
    return {int(c["id"]) for c in admin.client_list() if c.get("user") == user}


def service_vars(port: int, app: str, admin: str, **settings: Any) -> dict[str, Any]:
    """What the service passes: hashes only, no readiness wait in the play."""
    return {
        "port": port,
        "redis_username": "u_app",
        "redis_password_hash": sha(app),
        "redis_admin_password_hash": sha(admin),
        "dbvend_wait_ready": False,
        **settings,
    }


@pytest.mark.slow
def test_settings_in_files_reconfigured_live_and_kept_across_restart(deployer: Deployer) -> None:
    instance_id = deployer.new_id("rcfg")
    port = deployer.free_port()
    app_pw, admin_pw = password(), password()
    before = {
        "redis_maxmemory": 64 * MIB,
        "redis_maxmemory_policy": "noeviction",
        "redis_maxclients": 1000,
        "redis_appendonly": False,
        "redis_appendfsync": "everysec",
    }
    deployer.provision("redis", instance_id, **service_vars(port, app_pw, admin_pw, **before))
    container = deployer.container(instance_id)
    assert container.attrs["Config"]["Cmd"] == ["redis-server", "/data/config/redis.conf"]
    assert container.attrs["HostConfig"]["Memory"] == (64 + 64) * MIB

    # The files: root-only instance dir, the secret of the host-local account 0600 and
    # owned like the files Redis itself may rewrite (the server's uid).
    config = deployer.tmp / "data" / instance_id / "config"
    assert stat.S_IMODE(config.parent.stat().st_mode) == 0o700
    secret = config / "local.secret"
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    server_uid = (config / "redis.conf").stat().st_uid
    assert secret.stat().st_uid == server_uid == config.stat().st_uid != 0
    assert "appendfsync everysec\n" in (config / "redis.conf").read_text()
    assert sha(secret.read_text()) in (config / "users.acl").read_text()

    admin = connect(port, "dbvend-admin", admin_pw)
    assert admin.config_get("appendfsync") == {"appendfsync": "everysec"}
    app = connect(port, "u_app", app_pw)
    app.set("before", "kept")
    app_id = app.client_id()

    # All five settings, live, as the service runs it (hashes only): facts through set_stats.
    after = {
        "redis_maxmemory": 256 * MIB,
        "redis_maxmemory_policy": "allkeys-lru",
        "redis_maxclients": 700,
        "redis_appendonly": True,
        "redis_appendfsync": "always",
    }
    new_vars = service_vars(port, app_pw, admin_pw, **after)
    hosts = {
        instance_id: {**host_vars(deployer.tmp), "engine": "redis", "instance_id": instance_id, **new_vars}
    }
    stats = run_like_the_service(deployer.tmp, "reconfigure.yml", hosts)
    facts = stats["artifact_data"]["dbvend_instances"][instance_id]
    assert sorted(facts["applied_live"]) == [
        "appendfsync",
        "appendonly",
        "maxclients",
        "maxmemory",
        "maxmemory_policy",
    ]
    assert facts["applied_by_restart"] == []
    assert facts["container_id"] == container.id

    expected = {
        "maxmemory": str(256 * MIB),
        "maxmemory-policy": "allkeys-lru",
        "maxclients": "700",
        "appendonly": "yes",
        "appendfsync": "always",
    }

    def server_settings() -> dict[str, str]:
        return {name: admin.config_get(name)[name] for name in expected}

    # Same container, same connection (no restart, no reconnect), new values, new limit.
    assert app.client_id() == app_id
    assert app.get("before") == "kept"
    assert server_settings() == expected
    container.reload()
    assert container.id == deployer.container(instance_id).id
    assert container.attrs["HostConfig"]["Memory"] == (256 + 64) * MIB
    assert (
        container.attrs["State"]["StartedAt"] == deployer.container(instance_id).attrs["State"]["StartedAt"]
    )

    # Idempotent: reconfigure and a direct provision run with the same settings change nothing.
    again = deployer.playbook("reconfigure.yml", {"engine": "redis", "instance_id": instance_id, **new_vars})
    assert again.rc == 0, again.output[-3000:]
    assert again.changed() == 0, again.output[-3000:]
    converge = deployer.provision("redis", instance_id, **new_vars)
    assert converge.changed() == 0, converge.output[-3000:]
    assert app.client_id() == app_id

    # Persisted: after `docker restart` the server reads the same values from the file.
    container.restart(timeout=30)
    admin = connect(port, "dbvend-admin", admin_pw)
    deadline = time.monotonic() + 60
    while True:
        try:
            admin.ping()
            break
        except redis.exceptions.ConnectionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)
    assert server_settings() == expected
    assert deployer.container(instance_id).attrs["HostConfig"]["Memory"] == (256 + 64) * MIB
    app = connect(port, "u_app", app_pw)
    assert app.get("before") == "kept"

    # Lowering maxmemory lowers the limit after it (same container), live again.
    app_id = app.client_id()
    small = service_vars(port, app_pw, admin_pw, **{**after, "redis_maxmemory": 32 * MIB})
    lower = deployer.playbook("reconfigure.yml", {"engine": "redis", "instance_id": instance_id, **small})
    assert lower.rc == 0, lower.output[-3000:]
    assert admin.config_get("maxmemory") == {"maxmemory": str(32 * MIB)}
    assert deployer.container(instance_id).attrs["HostConfig"]["Memory"] == (32 + 64) * MIB
    assert deployer.container(instance_id).id == container.id
    assert app.client_id() == app_id
    assert app.get("before") == "kept"

    # Redis itself can write its files there (temporary file in the same directory).
    assert admin.config_rewrite()
    assert admin.acl_save()
    # The role owns the files: its next run puts its own rendering back (one restart) and
    # the application account is as restricted as before.
    restored = deployer.provision("redis", instance_id, **small)
    assert restored.changed() > 0
    assert deployer.provision("redis", instance_id, **small).changed() == 0
    app = connect(port, "u_app", app_pw)
    with pytest.raises(redis.exceptions.NoPermissionError):
        app.config_get("maxmemory")
    assert app.get("before") == "kept"

    # Nothing secret in any output: no password, no hash, not the host-local secret.
    for run in (again, converge, lower, restored):
        for value in (app_pw, admin_pw, sha(app_pw), sha(admin_pw), secret.read_text()):
            assert value not in run.output


@pytest.mark.slow
def test_rotate_without_and_with_grace(deployer: Deployer) -> None:
    instance_id = deployer.new_id("rot")
    port = deployer.free_port()
    first, admin_pw = password(), password()
    base = {"engine": "redis", "instance_id": instance_id}
    deployer.provision("redis", instance_id, **service_vars(port, first, admin_pw))
    admin = connect(port, "dbvend-admin", admin_pw)
    old_conn = connect(port, "u_app", first)
    old_conn.set("data", "kept")
    old_id = old_conn.client_id()

    def works(secret: str) -> bool:
        try:
            return bool(connect(port, "u_app", secret).ping())
        except redis.exceptions.AuthenticationError:
            return False

    def rotate(new: str, grace_hash: str = "") -> Any:
        run = deployer.playbook(
            "rotate.yml",
            {**base, **service_vars(port, new, admin_pw), "redis_password_grace_hash": grace_hash},
        )
        assert run.rc == 0, run.output[-3000:]
        return run

    # No grace: the old password is refused at once and its connection is ended.
    second = password()
    run = rotate(second)
    assert run.changed() > 0
    assert not works(first)
    assert works(second)
    assert old_id not in client_ids(admin, "u_app")
    assert rotate(second).changed() == 0

    # Grace: both passwords work and open connections stay, until a run without the grace hash.
    before_grace = connect(port, "u_app", second)
    before_id = before_grace.client_id()
    third = password()
    assert rotate(third, sha(second)).changed() > 0
    assert works(second)
    assert works(third)
    assert before_grace.get("data") == "kept"
    assert rotate(third, sha(second)).changed() == 0
    acl = (deployer.tmp / "data" / instance_id / "config" / "users.acl").read_text()
    assert f"#{sha(third)} #{sha(second)} " in acl
    time.sleep(1.5)  # CLIENT LIST ages are whole seconds: be clearly younger than the rotation
    during_grace = connect(port, "u_app", third)
    during_id = during_grace.client_id()

    finish = rotate(third)
    assert finish.changed() > 0
    assert not works(second)
    assert works(third)
    remaining = client_ids(admin, "u_app")
    assert before_id not in remaining  # older than the rotation: ended
    assert during_id in remaining  # opened during the grace period: kept
    assert during_grace.get("data") == "kept"
    assert rotate(third).changed() == 0
    assert sha(second) not in (deployer.tmp / "data" / instance_id / "config" / "users.acl").read_text()

    for value in (first, second, third, sha(first), sha(second), sha(third)):
        assert value not in run.output + finish.output
