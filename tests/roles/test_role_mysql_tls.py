"""roles/mysql with TLS (tls, tls_cert_pem, tls_key_pem, tls_ca_pem; certificates from
service/tls naming 127.0.0.1): real clients verify the server (mariadb --ssl-verify-server-cert,
PyMySQL with hostname checking, dbvend's own probe), plain and wrongly verified connections
are refused, the key is the server's only, a certificate and CA rotation is live with an open
connection kept, the modes switch through reconfigure.yml, and no key reaches the output."""

from __future__ import annotations

import asyncio
import os
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pymysql
import pytest

from service.engines import mysql_client
from service.tls import make_authority
from tests.roles.conftest import Deployer, password
from tests.roles.tls_support import ADDRESS, Certificates, stats


@pytest.fixture
def certificates(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Certificates:
    monkeypatch.setenv("ANSIBLE_SHOW_CUSTOM_STATS", "1")
    return Certificates.make(tmp_path)


def connect(port: int, secret: str, *, host: str = ADDRESS, **tls: Any) -> pymysql.Connection:
    return pymysql.connect(
        host=host, port=port, user="app", password=secret, database="shop", connect_timeout=10, **tls
    )


def one(conn: pymysql.Connection, sql: str) -> Any:
    with conn.cursor() as cursor:
        cursor.execute(sql)
        row = cursor.fetchone()
    assert row is not None
    return row[0]


def mariadb_cli(port: int, secret: str, *args: str) -> subprocess.CompletedProcess[str]:
    """The MariaDB command-line client on this machine, as a user would run it."""
    return subprocess.run(
        ["mariadb", "-h", ADDRESS, "-P", str(port), "-u", "app", "-NB", *args, "shop"],
        env={**os.environ, "MYSQL_PWD": secret},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def serial(conn: pymysql.Connection) -> int:
    cert = conn._sock.getpeercert()  # the certificate this connection verified
    return int(str(cert["serialNumber"]), 16)


@pytest.mark.slow
def test_required_mysql_verified_refused_rotated_live_and_no_key(
    deployer: Deployer, certificates: Certificates
) -> None:
    instance_id = deployer.new_id("mytls")
    port = deployer.free_port()
    secrets = {"mysql_password": password(), "mysql_root_password": password()}
    variables = {"port": port, "mysql_database": "shop", **secrets}
    tls = certificates.role_vars(instance_id, "required")
    first = deployer.provision("mysql", instance_id, "-vvv", "--diff", **variables, **tls)
    ca = certificates.ca_file()

    # mariadb --ssl-verify-server-cert --ssl-ca: verified, queries run over TLS.
    verified = mariadb_cli(
        port,
        secrets["mysql_password"],
        "--ssl-verify-server-cert",
        f"--ssl-ca={ca}",
        "-e",
        "SELECT 6 * 7; SHOW STATUS LIKE 'Ssl_version'",
    )
    assert verified.returncode == 0, verified.stderr
    assert verified.stdout.splitlines()[0] == "42"
    assert "TLSv1.3" in verified.stdout
    # PyMySQL with the CA: hostname checked (the certificate names 127.0.0.1 and the id only).
    with connect(port, secrets["mysql_password"], ssl={"ca": str(ca)}) as conn:
        assert one(conn, "SELECT 6 * 7") == 42
        assert one(
            conn,
            "SELECT VARIABLE_VALUE FROM information_schema.SESSION_STATUS"
            " WHERE VARIABLE_NAME = 'Ssl_version'",
        ).startswith("TLSv1.")
        issued_serial = serial(conn)
    with pytest.raises(pymysql.err.OperationalError, match=r"IP address mismatch|not valid for"):
        connect(port, secrets["mysql_password"], host="localhost", ssl={"ca": str(ca)})

    # A plain connection is refused by the server; so is one verifying against another CA.
    with pytest.raises(pymysql.err.OperationalError) as plain:
        connect(port, secrets["mysql_password"], ssl_disabled=True)
    assert plain.value.args[0] in (1045, 3159)
    assert mariadb_cli(port, secrets["mysql_password"], "--skip-ssl", "-e", "SELECT 1").returncode != 0
    stranger = certificates.ca_file(make_authority(datetime.now(UTC)), "stranger.pem")
    wrong = mariadb_cli(
        port, secrets["mysql_password"], "--ssl-verify-server-cert", f"--ssl-ca={stranger}", "-e", "SELECT 1"
    )
    assert wrong.returncode != 0
    assert "TLS/SSL error" in wrong.stderr
    with pytest.raises(pymysql.err.OperationalError, match="CERTIFICATE_VERIFY_FAILED"):
        connect(port, secrets["mysql_password"], ssl={"ca": str(stranger)})

    # dbvend's own probe verifies too (monitor account, the CA bundle as PEM).
    bundle_pem = tls["tls_ca_pem"]
    probe = asyncio.run(
        mysql_client.probe(ADDRESS, port, secrets["mysql_root_password"], 10, tls_ca=bundle_pem)
    )
    assert probe.up, probe.error
    misled = asyncio.run(
        mysql_client.probe(ADDRESS, port, secrets["mysql_root_password"], 10, tls_ca=stranger.read_text())
    )
    assert not misled.up
    assert "CERTIFICATE_VERIFY_FAILED" in str(misled.error)
    conn_info = {
        "host": ADDRESS,
        "port": port,
        "username": "app",
        "password": secrets["mysql_password"],
        "database": "shop",
    }
    assert asyncio.run(mysql_client.server_version(conn_info, 10, tls_ca=bundle_pem)).startswith("10.11")

    # The key: certificate and key in one file, 0600, the server's user's, read-only mount.
    container = deployer.container(instance_id)
    server_uid = container.exec_run(["id", "-u", "mysql"]).output.decode().strip()
    assert container.exec_run(
        ["stat", "-c", "%u %a", "/etc/mysql/tls/server.pem"]
    ).output.decode().split() == [server_uid, "600"]
    host_file = deployer.tmp / "data" / instance_id / "tls" / "server.pem"
    assert oct(host_file.stat().st_mode & 0o777) == "0o600"
    assert container.exec_run(["sh", "-c", "echo x > /etc/mysql/tls/server.pem"], user="mysql").exit_code != 0
    assert "PRIVATE" not in str(container.attrs)

    # A second run changes nothing.
    second = deployer.provision("mysql", instance_id, "-vvv", **variables, **tls)
    assert second.changed() == 0, second.output[-3000:]

    # Live rotation, to a certificate of a new CA (a CA rotation: both CAs in the bundle):
    # the open connection stays, new ones get the new certificate.
    new_ca = make_authority(datetime.now(UTC))
    with connect(port, secrets["mysql_password"], ssl={"ca": str(ca)}) as kept:
        kept_id = one(kept, "SELECT CONNECTION_ID()")
        rotated_vars = certificates.role_vars(
            instance_id, "required", ca=new_ca, bundle_of=[new_ca, certificates.ca]
        )
        rotation_vars = {"engine": "mysql", "instance_id": instance_id, **variables, **rotated_vars}
        rotation = deployer.playbook("rotate_certificate.yml", rotation_vars, "-vvv", "--diff")
        assert rotation.rc == 0, rotation.output[-3000:]
        report = stats(rotation)["dbvend_instances"][instance_id]
        assert report["certificate_changed"]
        assert report["ca_changed"]
        assert report["reloaded"]
        assert one(kept, "SELECT CONNECTION_ID()") == kept_id
    new_ca_file = certificates.ca_file(new_ca, "new-ca.pem")
    with connect(port, secrets["mysql_password"], ssl={"ca": str(new_ca_file)}) as fresh:
        assert serial(fresh) != issued_serial
        assert one(fresh, "SELECT 1") == 1
    with pytest.raises(pymysql.err.OperationalError, match="CERTIFICATE_VERIFY_FAILED"):
        connect(port, secrets["mysql_password"], ssl={"ca": str(ca)})
    again = deployer.playbook("rotate_certificate.yml", rotation_vars)
    assert again.changed() == 0, again.output[-3000:]
    # A restart serves the rotated certificate (the files, not only the server's memory).
    container.restart()
    deadline = time.monotonic() + 90
    verify_new = ("--ssl-verify-server-cert", f"--ssl-ca={new_ca_file}", "-e", "SELECT 1")
    while (restarted := mariadb_cli(port, secrets["mysql_password"], *verify_new)).returncode != 0:
        assert time.monotonic() < deadline, restarted.stderr
        time.sleep(0.5)

    certificates.assert_no_key_in(first, second, rotation)


@pytest.mark.slow
def test_mysql_modes_optional_required_off_through_reconfigure(
    deployer: Deployer, certificates: Certificates
) -> None:
    instance_id = deployer.new_id("mymode")
    port = deployer.free_port()
    secret = password()
    variables = {
        "port": port,
        "mysql_database": "shop",
        "mysql_password": secret,
        "mysql_root_password": password(),
    }
    tls = certificates.role_vars(instance_id, "optional")
    deployer.provision("mysql", instance_id, **variables, **tls)
    ca = str(certificates.ca_file())
    tls_status = (
        "SELECT VARIABLE_VALUE FROM information_schema.SESSION_STATUS WHERE VARIABLE_NAME = 'Ssl_version'"
    )

    # optional: plain and verified TLS connections both work.
    with connect(port, secret, ssl_disabled=True) as plain:
        assert one(plain, tls_status) == ""
    with connect(port, secret, ssl={"ca": ca}) as verified:
        assert one(verified, tls_status).startswith("TLSv1.")
    container_id = deployer.container(instance_id).id

    def reconfigure(**change: Any) -> dict[str, Any]:
        run = deployer.playbook(
            "reconfigure.yml", {"engine": "mysql", "instance_id": instance_id, **variables, **change}
        )
        assert run.rc == 0, run.output[-3000:]
        report: dict[str, Any] = stats(run)["dbvend_instances"][instance_id]
        report["changed"] = run.changed()
        return report

    # optional -> required: live (same server; a plain session already open stays: the rule
    # is checked when a connection is made).
    with connect(port, secret, ssl_disabled=True) as open_plain:
        report = reconfigure(**{**tls, "tls": "required"})
        assert (report["applied_live"], report["applied_by_restart"]) == (["tls"], [])
        assert one(open_plain, "SELECT 1") == 1
    assert deployer.container(instance_id).id == container_id
    with pytest.raises(pymysql.err.OperationalError):
        connect(port, secret, ssl_disabled=True)
    assert reconfigure(**{**tls, "tls": "required"})["changed"] == 0

    # required -> off: one restart; no TLS offered, the key gone from the host.
    report = reconfigure(tls="off")
    assert report["applied_by_restart"] == ["tls"]
    with connect(port, secret, ssl_disabled=True) as plain:
        assert one(plain, "SELECT 1") == 1
    with pytest.raises(pymysql.err.OperationalError):
        connect(port, secret, ssl={"ca": ca})
    assert not (deployer.tmp / "data" / instance_id / "tls").exists()
    assert reconfigure(tls="off")["changed"] == 0

    # off -> required with a new certificate: one restart (mariadbd sets TLS up at start only).
    fresh = certificates.role_vars(instance_id, "required")
    report = reconfigure(**fresh)
    assert report["applied_by_restart"] == ["tls"]
    with connect(port, secret, ssl={"ca": ca}) as verified:
        assert one(verified, "SELECT 1") == 1
    with pytest.raises(pymysql.err.OperationalError):
        connect(port, secret, ssl_disabled=True)
    # provision.yml with the same variables agrees, without the PEMs too (the files are kept).
    assert deployer.provision("mysql", instance_id, **variables, **fresh).changed() == 0
    assert deployer.provision("mysql", instance_id, **variables, tls="required").changed() == 0
