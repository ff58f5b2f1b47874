"""TLS end to end (issue 23), with real clients and real verification: one service process
with a warm pool of one slot per engine and DBVEND_TLS_DEFAULT=required.

- `required` Redis and MariaDB, from the warm pool and the cold path: redis-py
  (ssl_cert_reqs=required, host name checked), redis-cli --tls --cacert, PyMySQL with
  ssl={'ca': ...} and check_hostname, mariadb --ssl-verify-server-cert --ssl-ca; a plain
  client is refused, a client verifying against another CA fails, `optional` MariaDB
  takes both; the certificate names the host's address and the instance's id, nothing else.
- A rotate-certificate (asked for, and by the renewal job) and a CA rotation with an open
  connection kept; new connections verify against the bundle; another tenant's is 404.
- kill -9 of the service in the middle of a renewal: the instance still serves a valid
  certificate, and the restarted service finishes the renewal (pending -> current)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import ssl
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import docker
import pymysql
import pytest
import redis
from cryptography import x509

from service.tls import make_authority
from tests.helpers import create_database, drop_database, wait_until
from tests.pool.conftest import PoolRig, call, containers_under, start_rig
from tests.ports import port_range

pytestmark = pytest.mark.slow
ADDRESS = "127.0.0.1"


@pytest.fixture(scope="module")
async def rig(
    tmp_path_factory: pytest.TempPathFactory, docker_client: docker.DockerClient
) -> AsyncIterator[PoolRig]:
    url = await create_database()
    root = tmp_path_factory.mktemp("tls")
    made, db = await start_rig(
        url,
        root,
        {"redis": 1, "mysql": 1},
        ports=port_range("tls"),
        DBVEND_TLS_DEFAULT="required",
        DBVEND_TLS_RENEW_INTERVAL="1",
    )
    try:
        yield made
    finally:
        await made.svc.stop()
        await db.close()
        for container in containers_under(docker_client, root).values():
            container.remove(force=True, v=True)
        await drop_database(url)


# Instances made by one test and used by the next (one per engine per path: lean).
MADE: dict[str, dict[str, Any]] = {}


async def bundle(rig: PoolRig, path: Path) -> Path:
    """GET /api/v1/tls/ca.pem, without a token."""
    status, pem = await call(rig.svc, "", "GET", "/tls/ca.pem")
    assert status == 200, pem
    path.write_text(pem)
    return path


def redis_tls(conn: dict[str, Any], ca: Path, *, host: str | None = None, **kw: Any) -> redis.Redis:
    return redis.Redis(
        host=host or conn["host"],
        port=conn["port"],
        username=conn["username"],
        password=conn["password"],
        ssl=True,
        ssl_ca_certs=str(ca),
        ssl_cert_reqs="required",
        ssl_check_hostname=True,
        socket_timeout=10,
        **kw,
    )


def mysql_tls(conn: dict[str, Any], ca: Path, *, host: str | None = None) -> Any:
    return pymysql.connect(
        host=host or conn["host"],
        port=conn["port"],
        user=conn["username"],
        password=conn["password"],
        database=conn["database"],
        ssl={"ca": str(ca), "check_hostname": True},
        connect_timeout=10,
    )


def mysql_plain(conn: dict[str, Any]) -> Any:
    return pymysql.connect(
        host=conn["host"],
        port=conn["port"],
        user=conn["username"],
        password=conn["password"],
        database=conn["database"],
        ssl_disabled=True,
        connect_timeout=10,
    )


def served(sock: ssl.SSLSocket) -> x509.Certificate:
    der = sock.getpeercert(binary_form=True)
    assert der is not None
    return x509.load_der_x509_certificate(der)


def redis_served(conn: dict[str, Any], ca: Path) -> x509.Certificate:
    """The certificate a new, verified connection to a Redis instance gets."""
    client = redis_tls(conn, ca, single_connection_client=True)
    try:
        assert client.ping()
        sock = client.connection._sock  # type: ignore[union-attr]
        return served(sock)
    finally:
        client.close()


def mysql_served(conn: dict[str, Any], ca: Path) -> x509.Certificate:
    client = mysql_tls(conn, ca)
    try:
        return served(client._sock)
    finally:
        client.close()


def names(cert: x509.Certificate) -> list[str]:
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return [str(n.value) for n in san]


def other_ca(tmp: Path) -> Path:
    path = tmp / "other-ca.pem"
    path.write_text(make_authority(datetime.now(UTC)).certificate_pem)
    return path


async def run(*parts: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    argv = [a for part in parts for a in part]
    return await asyncio.to_thread(
        subprocess.run, argv, env=env, capture_output=True, text=True, timeout=30, check=False
    )


async def create(rig: PoolRig, token: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    status, inst = await call(rig.svc, token, "POST", "/instances?wait=180", json=body)
    assert status == 201, inst
    assert inst["status"] == "running", inst
    return status, inst


async def test_the_ca_bundle_is_public_and_in_the_openapi_document(rig: PoolRig, tmp_path: Path) -> None:
    ca = await bundle(rig, tmp_path / "ca.pem")
    found = x509.load_pem_x509_certificates(ca.read_bytes())
    assert len(found) == 1
    assert found[0].extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    status, document = await call(rig.svc, "", "GET", "/openapi.json")
    assert status == 200
    assert document["paths"]["/tls/ca.pem"]["get"]["security"] == []  # public
    assert "post" in document["paths"]["/instances/{id}/rotate-certificate"]
    assert "post" in document["paths"]["/tls/rotate-ca"]


async def test_required_redis_from_the_pool_and_the_cold_path(rig: PoolRig, tmp_path: Path) -> None:
    await rig.wait_ready(2)
    token = await rig.user()
    ca = await bundle(rig, tmp_path / "ca.pem")
    warm_status, warm = await call(rig.svc, token, "POST", "/instances", json={"engine": "redis"})
    assert warm_status == 201, warm  # a slot: answered at once, TLS from its first byte
    _, cold = await create(rig, token, {"engine": "redis", "settings": {"maxmemory": "100mb"}})
    MADE["redis"], MADE["redis_token"] = warm, token
    for inst in (warm, cold):
        conn = inst["connection"]
        assert inst["settings"]["tls"] == "required"
        assert conn["tls"] == {"mode": "required", "ca_url": "/api/v1/tls/ca.pem", "server_name": ADDRESS}
        assert conn["uri"].startswith("rediss://")
        assert " --tls --cacert dbvend-ca.pem " in conn["cli"]
        client = redis_tls(conn, ca)
        assert client.set("k", inst["id"])
        assert client.get("k") == inst["id"].encode()
        client.close()
        # The certificate names the host's address and this instance, nothing else.
        assert names(redis_served(conn, ca)) == [ADDRESS, inst["id"]]
        # redis-cli, verifying as the connection details say.
        out = await run(
            ["redis-cli", "-h", conn["host"], "-p", str(conn["port"]), "--tls", "--cacert", str(ca)],
            ["--user", conn["username"], "--no-auth-warning", "GET", "k"],
            env={**os.environ, "REDISCLI_AUTH": conn["password"]},
        )
        assert out.stdout.strip() == inst["id"], out
        # Plain: the server speaks only TLS on the port.
        plain = redis.Redis(
            host=conn["host"],
            port=conn["port"],
            username=conn["username"],
            password=conn["password"],
            socket_timeout=5,
        )
        with pytest.raises(redis.ConnectionError):
            plain.ping()
        # Another CA, or another name than the certificate's: verification fails.
        with pytest.raises(redis.ConnectionError, match="certificate verify failed"):
            redis_tls(conn, other_ca(tmp_path)).ping()
        with pytest.raises(redis.ConnectionError, match=r"certificate verify failed|match"):
            redis_tls(conn, ca, host="localhost").ping()
    # The warm instance's certificate is the slot's (issued for the slot's id: its id), current.
    state = await rig.db.fetchval("SELECT state FROM tls_certificates WHERE instance_id = $1", warm["id"])
    assert state == "current"


async def test_required_and_optional_mysql_and_bad_settings(rig: PoolRig, tmp_path: Path) -> None:
    await rig.wait_ready(2)
    token = await rig.user()
    ca = await bundle(rig, tmp_path / "ca.pem")
    status, warm = await call(rig.svc, token, "POST", "/instances", json={"engine": "mysql"})
    assert status == 201, warm
    _, optional = await create(
        rig, token, {"engine": "mysql", "settings": {"tls": "optional", "memory_mb": 320}}
    )
    MADE["mysql"], MADE["mysql_token"] = warm, token
    conn = warm["connection"]
    assert conn["tls"]["mode"] == "required"
    assert "ssl-mode=VERIFY_IDENTITY" in conn["uri"]
    assert "--ssl-verify-server-cert" in conn["cli"]
    for inst in (warm, optional):
        client = mysql_tls(inst["connection"], ca)
        with client.cursor() as cur:
            cur.execute("SHOW SESSION STATUS LIKE 'Ssl_version'")
            assert str(cur.fetchone()[1]).startswith("TLSv1.")
        client.close()
        assert names(mysql_served(inst["connection"], ca)) == [ADDRESS, inst["id"]]
        c = inst["connection"]
        out = await run(
            ["mariadb", "-h", c["host"], "-P", str(c["port"]), "-u", c["username"], f"-p{c['password']}"],
            ["--ssl-ca", str(ca), "--ssl-verify-server-cert", "-N", "-e", "SELECT 41 + 1", c["database"]],
        )
        assert out.stdout.strip() == "42", out
        with pytest.raises(pymysql.err.OperationalError):
            mysql_tls(c, other_ca(tmp_path))
    # required: a plain client is refused by the server; optional: it is taken.
    with pytest.raises(pymysql.err.OperationalError):
        mysql_plain(conn)
    mysql_plain(optional["connection"]).close()
    # Bad input: Redis has no optional TLS, and no engine an unknown mode.
    for engine, value in (("redis", "optional"), ("mysql", "on"), ("redis", "yes")):
        status, body = await call(
            rig.svc, token, "POST", "/instances", json={"engine": engine, "settings": {"tls": value}}
        )
        assert status == 422, body
        assert [d["field"] for d in body["error"]["details"]] == ["settings.tls"]

    # Day 2 (PATCH): an unknown mode is a 422 naming the field; optional -> required is live
    # (the open TLS connection stays) and from then on a plain client is refused.
    path = f"/instances/{optional['id']}"
    for value in ("on", "OPTIONAL"):
        status, body = await call(rig.svc, token, "PATCH", path, json={"settings": {"tls": value}})
        assert status == 422, body
        assert [d["field"] for d in body["error"]["details"]] == ["settings.tls"]
    kept = mysql_tls(optional["connection"], ca)
    status, body = await call(
        rig.svc, token, "PATCH", path + "?wait=120", json={"settings": {"tls": "required"}}
    )
    assert status == 200, body
    assert body["settings"]["tls"] == "required"
    assert body["connection"]["tls"]["mode"] == "required"
    assert "tls" in body["changes"]["live"]
    with kept.cursor() as cur:
        cur.execute("SELECT 1")
    kept.close()
    with pytest.raises(pymysql.err.OperationalError):
        mysql_plain(optional["connection"])
    mysql_tls(optional["connection"], ca).close()


async def test_dbvend_connect_verifies_against_the_bundle(rig: PoolRig, tmp_path: Path) -> None:
    """The CLI fetches the CA bundle (no token needed for it) and runs the real clients with
    verification on: redis-cli --tls --cacert, mariadb --ssl-ca --ssl-verify-server-cert."""
    url = rig.svc.base.removesuffix("/api/v1")
    cases = (
        (MADE["redis"], MADE["redis_token"], "PING\n", "PONG"),
        (MADE["mysql"], MADE["mysql_token"], "SELECT 41 + 1 AS answer;\n", "42"),
    )
    for inst, token, stdin, expected in cases:
        env = {k: v for k, v in os.environ.items() if not k.startswith("DBVEND_")}
        env.update(
            DBVEND_URL=url,
            DBVEND_TOKEN=token,
            XDG_CONFIG_HOME=str(tmp_path / "config"),
            XDG_CACHE_HOME=str(tmp_path / "cache"),
            PYTHONPATH=str(Path(__file__).resolve().parents[2]),
        )
        done = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "service.cli", "connect", inst["id"]],
            input=stdin,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        assert expected in done.stdout.split(), done.stdout
    # The bundle it verified with is the server's, kept in the user's cache.
    cached = list((tmp_path / "cache" / "dbvend").glob("ca-*.pem"))
    assert [p.read_text() for p in cached] == [(await bundle(rig, tmp_path / "ca.pem")).read_text()]


async def open_redis(conn: dict[str, Any], ca: Path) -> redis.Redis:
    client = redis_tls(conn, ca, single_connection_client=True)
    assert client.ping()
    return client


async def test_rotation_renewal_and_ca_rotation_keep_open_connections(rig: PoolRig, tmp_path: Path) -> None:
    rd, my = MADE["redis"], MADE["mysql"]
    token = MADE["redis_token"]
    ca = await bundle(rig, tmp_path / "ca.pem")
    kept_redis = await open_redis(rd["connection"], ca)
    redis_id = kept_redis.client_id()
    kept_mysql = mysql_tls(my["connection"], ca)
    with kept_mysql.cursor() as cur:
        cur.execute("SELECT CONNECTION_ID()")
        mysql_id = cur.fetchone()[0]

    # On demand: a new certificate, reloaded live; the open connection stays.
    before = redis_served(rd["connection"], ca).serial_number
    status, body = await call(rig.svc, token, "POST", f"/instances/{rd['id']}/rotate-certificate?wait=120")
    assert status == 200, body
    assert redis_served(rd["connection"], ca).serial_number != before
    assert kept_redis.client_id() == redis_id
    # Another tenant's instance is not there for this one.
    status, _ = await call(rig.svc, MADE["mysql_token"], "POST", f"/instances/{rd['id']}/rotate-certificate")
    assert status == 404

    # The renewal job: a certificate past two thirds of its life gets a rotate-certificate
    # operation of its own, visible as an instance event.
    before = mysql_served(my["connection"], ca).serial_number
    await rig.db.execute(
        "UPDATE tls_certificates SET renew_at = not_before + interval '1 second' WHERE instance_id = $1",
        my["id"],
    )

    async def renewed() -> bool:
        return bool(
            await rig.db.fetchval(
                "SELECT count(*) FROM operations WHERE instance_id = $1 AND kind = 'rotate-certificate'"
                " AND status = 'succeeded'",
                my["id"],
            )
        )

    assert await wait_until(renewed, 120)
    assert mysql_served(my["connection"], ca).serial_number != before
    status, events = await call(rig.svc, MADE["mysql_token"], "GET", f"/events?instance_id={my['id']}")
    assert status == 200, events
    assert "certificate_renewal" in [e["kind"] for e in events["items"]]

    # A CA rotation: the new CA joins the bundle, signs, re-issues everything, the old one goes.
    old_ca = ca.read_text()
    status, listed = await rig.svc.call("POST", "/tls/rotate-ca", json={"step": "begin"})
    assert status == 200, listed
    both = await bundle(rig, tmp_path / "both.pem")
    assert len(x509.load_pem_x509_certificates(both.read_bytes())) == 2
    status, listed = await rig.svc.call("POST", "/tls/rotate-ca", json={"step": "promote"})
    assert status == 200, listed
    new_id = next(a["id"] for a in listed["items"] if a["state"] == "active")

    async def reissued() -> bool:
        left = await rig.db.fetchval(
            "SELECT count(*) FROM tls_certificates c JOIN instances i ON i.id = c.instance_id"
            " WHERE c.authority_id <> $1 OR c.state <> 'current'",
            new_id,
        )
        return left == 0

    assert await wait_until(reissued, 240)

    async def finished() -> bool:
        status, _ = await rig.svc.call("POST", "/tls/rotate-ca", json={"step": "finish"})
        return status == 200

    assert await wait_until(finished, 240, interval=2)  # slots of the old CA are replaced first
    new = await bundle(rig, tmp_path / "new.pem")
    assert new.read_text() != old_ca
    assert len(x509.load_pem_x509_certificates(new.read_bytes())) == 1
    # New connections verify against the new bundle alone; the open ones never dropped.
    assert redis_served(rd["connection"], new).issuer == mysql_served(my["connection"], new).issuer
    assert kept_redis.client_id() == redis_id
    with kept_mysql.cursor() as cur:
        cur.execute("SELECT CONNECTION_ID()")
        assert cur.fetchone()[0] == mysql_id
    kept_redis.close()
    kept_mysql.close()
    with pytest.raises(redis.ConnectionError, match="certificate verify failed"):
        redis_tls(rd["connection"], ca).ping()  # the old CA alone verifies nothing any more


def descends_from(child: int, ancestor: int) -> bool:
    while child > 1:
        if child == ancestor:
            return True
        try:
            stat = Path(f"/proc/{child}/stat").read_text()
        except OSError:
            return False
        child = int(stat.rpartition(")")[2].split()[1])
    return False


def playing(pid: int) -> bool:
    """rotate_certificate.yml runs under the service (ansible-runner starts it from a
    thread, so /proc's children lists of the main thread miss it: follow parents instead)."""
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if b"rotate_certificate.yml" in (entry / "cmdline").read_bytes() and descends_from(
                    int(entry.name), pid
                ):
                    return True
    return False


async def test_kill_9_in_the_middle_of_a_renewal(rig: PoolRig, tmp_path: Path) -> None:
    rd = MADE["redis"]
    ca = await bundle(rig, tmp_path / "ca.pem")
    status, body = await call(
        rig.svc, MADE["redis_token"], "POST", f"/instances/{rd['id']}/rotate-certificate"
    )
    assert status == 202, body
    assert rig.svc.proc is not None
    pid = rig.svc.proc.pid

    for _ in range(6000):
        if playing(pid):
            break
        await asyncio.sleep(0.02)
    else:
        raise AssertionError("the renewal's play never ran")
    rig.svc.kill9()
    # Whatever the play had done, the server serves a certificate that verifies.
    assert names(redis_served(rd["connection"], ca)) == [ADDRESS, rd["id"]]
    await rig.svc.start()

    async def done() -> bool:
        return (
            await rig.db.fetchval("SELECT status FROM operations WHERE id = $1", body["id"])
        ) == "succeeded"

    assert await wait_until(done, 180)
    rows = await rig.db.fetch("SELECT state, serial FROM tls_certificates WHERE instance_id = $1", rd["id"])
    assert [r["state"] for r in rows] == ["current"]
    assert redis_served(rd["connection"], ca).serial_number == int(rows[0]["serial"], 16)
