"""roles/redis with TLS (tls=required; certificates from service/tls naming 127.0.0.1): real
clients verify the server (redis-cli --tls --cacert, redis-py with hostname checking,
dbvend's own probe), plain and wrongly verified connections are refused, the key is the
server's only, day-2 operations work over TLS, a certificate and CA rotation is live with an
open connection kept, tls switches live both ways, and no key reaches the output."""

from __future__ import annotations

import asyncio
import os
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import redis

from service.engines import redis_client
from service.tls import make_authority
from tests.roles.conftest import Deployer, password
from tests.roles.tls_support import ADDRESS, Certificates, served_serial, stats


@pytest.fixture
def certificates(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Certificates:
    monkeypatch.setenv("ANSIBLE_SHOW_CUSTOM_STATS", "1")
    return Certificates.make(tmp_path)


def connect(
    port: int, secret: str, *, ca: Path | None = None, host: str = ADDRESS, **extra: Any
) -> redis.Redis:
    tls: dict[str, Any] = (
        {"ssl": True, "ssl_ca_certs": str(ca), "ssl_cert_reqs": "required", "ssl_check_hostname": True}
        if ca
        else {}
    )
    return redis.Redis(
        host=host,
        port=port,
        username="app",
        password=secret,
        socket_timeout=10,
        decode_responses=True,
        **tls,
        **extra,
    )


def redis_cli(port: int, secret: str, *args: str) -> subprocess.CompletedProcess[str]:
    """redis-cli on this machine, as a user would run it (the password in REDISCLI_AUTH)."""
    return subprocess.run(
        ["redis-cli", "-h", ADDRESS, "-p", str(port), "--user", "app", "--no-auth-warning", *args],
        env={**os.environ, "REDISCLI_AUTH": secret},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


@pytest.mark.slow
def test_required_redis_verified_refused_day2_rotated_live_and_no_key(
    deployer: Deployer, certificates: Certificates
) -> None:
    instance_id = deployer.new_id("rdtls")
    port = deployer.free_port()
    secret, admin = password(), password()
    variables = {"port": port, "redis_password": secret, "redis_admin_password": admin}
    tls = certificates.role_vars(instance_id, "required")
    first = deployer.provision("redis", instance_id, "-vvv", "--diff", **variables, **tls)
    ca = certificates.ca_file()

    # redis-cli --tls --cacert (it checks the chain; redis-py below checks the name too).
    verified = redis_cli(port, secret, "--tls", "--cacert", str(ca), "SET", "k", "v")
    assert (verified.returncode, verified.stdout.strip()) == (0, "OK"), verified.stderr
    assert redis_cli(port, secret, "--tls", "--cacert", str(ca), "GET", "k").stdout.strip() == "v"
    client = connect(port, secret, ca=ca)
    assert client.get("k") == "v"
    with pytest.raises(redis.exceptions.ConnectionError, match=r"IP address mismatch|not valid for"):
        connect(port, secret, ca=ca, host="localhost").ping()

    # Plain is refused (the plain port is closed: the same port speaks TLS only); another CA fails.
    with pytest.raises(redis.exceptions.ConnectionError):
        connect(port, secret).ping()
    assert redis_cli(port, secret, "PING").stdout.strip() != "PONG"
    stranger = certificates.ca_file(make_authority(datetime.now(UTC)), "stranger.pem")
    wrong = redis_cli(port, secret, "--tls", "--cacert", str(stranger), "PING")
    assert wrong.returncode != 0
    assert "certificate verify failed" in (wrong.stdout + wrong.stderr).lower()
    with pytest.raises(redis.exceptions.ConnectionError, match="CERTIFICATE_VERIFY_FAILED"):
        connect(port, secret, ca=stranger).ping()

    # dbvend's own probe verifies too.
    probe = asyncio.run(redis_client.probe(ADDRESS, port, admin, 10, tls_ca=tls["tls_ca_pem"]))
    assert probe.up, probe.error
    assert not asyncio.run(redis_client.probe(ADDRESS, port, admin, 10, tls_ca=stranger.read_text())).up
    conn_info = {"host": ADDRESS, "port": port, "username": "app", "password": secret}
    assert asyncio.run(redis_client.server_version(conn_info, 10, tls_ca=tls["tls_ca_pem"])).startswith("7.0")

    # The key: certificate and key in one file, 0600, the server's user's.
    container = deployer.container(instance_id)
    server_uid = container.exec_run(["id", "-u", "redis"]).output.decode().strip()
    stat = container.exec_run(["stat", "-c", "%u %a", "/data/config/tls/server.pem"]).output.decode().split()
    assert stat == [server_uid, "600"]
    assert "PRIVATE" not in str(container.attrs)

    # A second run changes nothing.
    second = deployer.provision("redis", instance_id, "-vvv", **variables, **tls)
    assert second.changed() == 0, second.output[-3000:]

    # Day-2 operations talk to the server in the container over TLS (files/cli.sh).
    day2 = {"engine": "redis", "instance_id": instance_id, **variables, **tls}
    resized = deployer.playbook("reconfigure.yml", {**day2, "redis_maxclients": 321})
    assert resized.rc == 0, resized.output[-3000:]
    assert stats(resized)["dbvend_instances"][instance_id]["applied_live"] == ["maxclients"]
    new_secret = password()
    rotated = deployer.playbook("rotate.yml", {**day2, "redis_password": new_secret})
    assert rotated.rc == 0, rotated.output[-3000:]
    secret, variables["redis_password"], day2["redis_password"] = new_secret, new_secret, new_secret
    client = connect(port, secret, ca=ca)
    assert client.get("k") == "v"
    backup = deployer.playbook(
        "backup.yml", {**day2, "backup_id": "b-tlsbackup1", "backup_dest": str(deployer.tmp / "backups")}
    )
    assert backup.rc == 0, backup.output[-3000:]
    assert (deployer.tmp / "backups" / "b-tlsbackup1.rdb").stat().st_size > 0

    # Live rotation to a certificate of a new CA (both CAs in the bundle): the open
    # connection stays, new connections get the new certificate.
    issued_serial = served_serial(port, ca)
    new_ca = make_authority(datetime.now(UTC))
    kept = connect(port, secret, ca=ca, single_connection_client=True, retry_on_error=[])
    kept_id = kept.client_id()
    rotation_vars = {
        **day2,
        **certificates.role_vars(instance_id, "required", ca=new_ca, bundle_of=[new_ca, certificates.ca]),
    }
    rotation = deployer.playbook("rotate_certificate.yml", rotation_vars, "-vvv", "--diff")
    assert rotation.rc == 0, rotation.output[-3000:]
    report = stats(rotation)["dbvend_instances"][instance_id]
    assert report["certificate_changed"]
    assert report["ca_changed"]
    assert report["reloaded"]
    assert kept.client_id() == kept_id
    assert kept.get("k") == "v"
    new_ca_file = certificates.ca_file(new_ca, "new-ca.pem")
    assert served_serial(port, new_ca_file) != issued_serial
    assert connect(port, secret, ca=new_ca_file).get("k") == "v"
    with pytest.raises(redis.exceptions.ConnectionError):
        connect(port, secret, ca=ca).ping()
    assert deployer.playbook("rotate_certificate.yml", rotation_vars).changed() == 0
    kept.close()

    certificates.assert_no_key_in(first, second, resized, rotated, backup, rotation)


@pytest.mark.slow
def test_redis_tls_switches_live_both_ways(deployer: Deployer, certificates: Certificates) -> None:
    instance_id = deployer.new_id("rdmode")
    port = deployer.free_port()
    secret = password()
    variables = {
        "engine": "redis",
        "instance_id": instance_id,
        "port": port,
        "redis_password": secret,
        "redis_admin_password": password(),
    }
    deployer.provision(
        "redis", instance_id, **{k: v for k, v in variables.items() if k not in ("engine", "instance_id")}
    )
    ca = certificates.ca_file()
    plain = connect(port, secret, single_connection_client=True, retry_on_error=[])
    plain.set("k", "v")
    plain_id = plain.client_id()
    run_id = plain.info("server")["run_id"]

    def reconfigure(**change: Any) -> dict[str, Any]:
        run = deployer.playbook("reconfigure.yml", {**variables, **change})
        assert run.rc == 0, run.output[-3000:]
        report: dict[str, Any] = stats(run)["dbvend_instances"][instance_id]
        report["changed"] = run.changed()
        return report

    # off -> required: live, same server; the plain connection already open stays up.
    assert reconfigure(**certificates.role_vars(instance_id, "required"))["applied_live"] == ["tls"]
    assert plain.client_id() == plain_id
    assert plain.info("server")["run_id"] == run_id
    with pytest.raises(redis.exceptions.ConnectionError):
        connect(port, secret).ping()
    assert connect(port, secret, ca=ca).get("k") == "v"
    assert reconfigure(tls="required")["changed"] == 0
    # A restart comes back in TLS (redis.conf says so).
    deployer.container(instance_id).restart()
    deadline = time.monotonic() + 60
    while (answer := redis_cli(port, secret, "--tls", "--cacert", str(ca), "GET", "k")).stdout.strip() != "v":
        assert time.monotonic() < deadline, answer
        time.sleep(0.2)

    # required -> off: live again; the key gone from the host.
    tls_client = connect(port, secret, ca=ca, single_connection_client=True, retry_on_error=[])
    tls_id = tls_client.client_id()
    assert reconfigure(tls="off")["applied_live"] == ["tls"]
    assert tls_client.client_id() == tls_id
    assert connect(port, secret).get("k") == "v"
    assert not (deployer.tmp / "data" / instance_id / "config" / "tls").exists()
    assert reconfigure(tls="off")["changed"] == 0
    for client in (plain, tls_client):
        client.close()
