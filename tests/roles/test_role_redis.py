"""roles/redis through playbooks/provision.yml: settings, ACLs, container shape, config
files, idempotence, secrets kept out of the output, a changed setting applied on the same data."""

from __future__ import annotations

import hashlib
import stat

import pytest
import redis

from tests.roles.conftest import Deployer, password

MIB = 1024 * 1024


def connect(port: int, username: str, secret: str) -> redis.Redis:
    return redis.Redis(
        host="127.0.0.1",
        port=port,
        username=username,
        password=secret,
        socket_timeout=10,
        decode_responses=True,
    )


@pytest.mark.slow
def test_redis_instance_settings_acls_idempotence_and_no_secrets(deployer: Deployer) -> None:
    instance_id = deployer.new_id("redis")
    port = deployer.free_port()
    secrets = {"redis_password": password(), "redis_admin_password": password()}
    variables = {
        "port": port,
        "redis_username": "u_cache",
        "redis_maxmemory": 96 * MIB,
        "redis_maxmemory_policy": "allkeys-lru",
        "redis_appendonly": True,
        "redis_maxclients": 500,
        **secrets,
    }

    first = deployer.provision("redis", instance_id, "-vvv", **variables)
    assert first.changed() > 0

    # The server runs exactly these settings (read through the admin account).
    admin = connect(port, "dbvend-admin", secrets["redis_admin_password"])
    assert admin.config_get("maxmemory") == {"maxmemory": str(96 * MIB)}
    assert admin.config_get("maxmemory-policy") == {"maxmemory-policy": "allkeys-lru"}
    assert admin.config_get("appendonly") == {"appendonly": "yes"}
    assert admin.config_get("maxclients") == {"maxclients": "500"}
    assert {u.split()[1] for u in admin.acl_list()} == {"default", "dbvend-admin", "dbvend-local", "u_cache"}

    # The application account works for data commands and cannot touch the server.
    app = connect(port, "u_cache", secrets["redis_password"])
    assert app.set("k", "v")
    assert app.get("k") == "v"
    assert app.keys("*") == ["k"]
    assert app.flushdb()
    for command in (
        ("CONFIG", "GET", "maxmemory"),
        ("CONFIG", "SET", "maxmemory", "0"),
        ("SHUTDOWN",),
        ("MODULE", "LIST"),
        ("ACL", "LIST"),
        ("ACL", "WHOAMI"),
        ("BGSAVE",),
    ):
        with pytest.raises(redis.exceptions.NoPermissionError):
            app.execute_command(*command)
    # DEBUG is refused to everyone (enable-debug-command no); the ACL denies it too.
    with pytest.raises(redis.exceptions.ResponseError):
        app.execute_command("DEBUG", "SLEEP", "0")
    for command in ("DEBUG", "CONFIG", "SHUTDOWN", "MODULE", "ACL"):
        verdict = admin.execute_command("ACL", "DRYRUN", "u_cache", command, "HELP")
        assert "no permissions" in str(verdict), (command, verdict)
    assert admin.execute_command("ACL", "DRYRUN", "u_cache", "SET", "a", "b") == "OK"
    # The default user is off: no unauthenticated access.
    anonymous = redis.Redis(host="127.0.0.1", port=port, socket_timeout=10)
    with pytest.raises(redis.exceptions.AuthenticationError):
        anonymous.ping()

    # Container: name, labels, published port, memory limit (maxmemory + 64 MiB), restart policy.
    container = deployer.container(instance_id)
    assert container.labels["dbvend.instance"] == instance_id
    assert container.labels["dbvend.engine"] == "redis"
    assert container.labels["dbvend.managed"] == "true"
    host_config = container.attrs["HostConfig"]
    assert host_config["PortBindings"]["6379/tcp"] == [{"HostIp": "127.0.0.1", "HostPort": str(port)}]
    assert host_config["Memory"] == (96 + 64) * MIB
    assert host_config["RestartPolicy"]["Name"] == "unless-stopped"
    # Limits: 0.5 CPU (160 MiB: 1 per GiB in steps of 0.5, at least 0.5), pids, rotated logs.
    assert (host_config["CpuQuota"], host_config["CpuPeriod"]) == (50_000, 100_000)
    assert host_config["PidsLimit"] == 256
    assert host_config["LogConfig"] == {"Type": "json-file", "Config": {"max-size": "10m", "max-file": "3"}}

    # The configuration is in files of the root-only instance directory (hashes, never the
    # passwords); the container's command only names the file.
    instance_dir = deployer.tmp / "data" / instance_id
    assert stat.S_IMODE(instance_dir.stat().st_mode) == 0o700
    assert container.attrs["Config"]["Cmd"] == ["redis-server", "/data/config/redis.conf"]
    assert "maxmemory-policy allkeys-lru\n" in (instance_dir / "config" / "redis.conf").read_text()
    acl = (instance_dir / "config" / "users.acl").read_text()
    assert "#" + hashlib.sha256(secrets["redis_password"].encode()).hexdigest() in acl
    assert all(value not in str(container.attrs) + acl for value in secrets.values())
    assert (instance_dir / "data").is_dir()

    # A second identical run changes nothing.
    second = deployer.provision("redis", instance_id, "-vvv", **variables)
    assert second.changed() == 0, second.output[-3000:]

    # No password in the -vvv output of either run. (The SHA-256 hashes of the ACL file do
    # appear there: the connection plugin prints the raw command that writes it, whatever
    # no_log says; a hash of 190 random bits gives nothing away, as for MariaDB's.)
    for run in (first, second):
        for value in secrets.values():
            assert value not in run.output

    # A changed setting through provision.yml rewrites the file and restarts the same
    # container once (reconfigure.yml changes it live); the data stays (AOF is on).
    admin.set("kept", "yes")
    third = deployer.provision("redis", instance_id, **{**variables, "redis_maxclients": 700})
    assert third.changed() > 0
    assert deployer.container(instance_id).id == container.id
    admin = connect(port, "dbvend-admin", secrets["redis_admin_password"])
    assert admin.config_get("maxclients") == {"maxclients": "700"}
    assert admin.get("kept") == "yes"
