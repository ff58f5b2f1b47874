"""Extra credentials through the API on real containers with real clients: two credentials
next to the application account, each its own server user; deleting one refuses it at once
(its open connection too) while the other and the application account keep working, also
after a password rotation and a restart. A repeat is idempotent; the list never carries a
password, nor does anything the service wrote to disk or logged."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import asyncpg
import pymysql
import pytest
import redis

from tests.conftest import UserFactory
from tests.helpers import Api


def _open(engine: str, c: dict[str, Any]) -> Any:
    """A connected client (a query ran), as the credential's user."""
    if engine == "redis":
        client = redis.Redis(
            host=c["host"], port=c["port"], username=c["username"], password=c["password"], socket_timeout=5
        )
        client.ping()
        return client
    conn = pymysql.connect(
        host=c["host"],
        port=c["port"],
        user=c["username"],
        password=c["password"],
        database=c["database"],
        connect_timeout=5,
        read_timeout=10,
        autocommit=True,
    )
    with conn.cursor() as cur:
        cur.execute("SELECT 1")
    return conn


def _use(engine: str, c: dict[str, Any], key: str) -> Any:
    """Write and read back through a new connection: the user's rights on the data."""
    client = _open(engine, c)
    try:
        if engine == "redis":
            client.set(key, c["username"])
            return client.get(key).decode()
        with client.cursor() as cur:
            cur.execute("CREATE TABLE IF NOT EXISTS t (k varchar(40) PRIMARY KEY, v varchar(40))")
            cur.execute("REPLACE INTO t VALUES (%s, %s)", (key, c["username"]))
            cur.execute("SELECT v FROM t WHERE k = %s", (key,))
            return cur.fetchone()[0]
    finally:
        client.close()


def _still_serves(engine: str, client: Any) -> None:
    if engine == "redis":
        client.ping()
    else:
        with client.cursor() as cur:
            cur.execute("SELECT 1")


_REFUSED = (redis.exceptions.RedisError, pymysql.err.MySQLError)


@pytest.fixture
def run_dirs(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """The content of every runner private data dir (inventory, env, artifacts), read just
    before the runner removes it."""
    from service.operations import runner

    seen: list[bytes] = []
    remove = runner.shutil.rmtree

    def read_then_remove(path: Any, *args: Any, **kw: Any) -> None:
        for found in Path(path).rglob("*"):
            if found.is_file() and not found.is_symlink():
                seen.append(found.read_bytes())
        remove(path, *args, **kw)

    monkeypatch.setattr(runner.shutil, "rmtree", read_then_remove)
    return seen


def _files_holding(root: Path, secret: str) -> list[str]:
    """Every file under root that holds the secret (the servers' own data directories too:
    they hold hashes only)."""
    needle = secret.encode()
    found = []
    for path in root.rglob("*"):
        try:
            if path.is_file() and not path.is_symlink() and needle in path.read_bytes():
                found.append(str(path))
        except OSError:
            continue
    return found


@pytest.mark.parametrize("engine", ["redis", "mysql"])
async def test_two_credentials_one_removed_the_other_survives_rotation_and_restart(
    service: Api,
    make_user: UserFactory,
    db: asyncpg.Pool,
    session_dir: Path,
    caplog: pytest.LogCaptureFixture,
    run_dirs: list[bytes],
    engine: str,
) -> None:
    caplog.set_level(logging.DEBUG)
    _, token = await make_user("cred")
    status, inst = await service.call("POST", "/instances?wait=240", token, json={"engine": engine})
    assert status == 201, inst
    iid, app = inst["id"], inst["connection"]

    status, first = await service.call(
        "POST", f"/instances/{iid}/credentials?wait=120", token, json={"name": "first"}
    )
    assert status == 201, first
    binding = "0b6c3f0e-6a8e-4b51-9a43-4a2c7d3f5e10"  # a broker's binding id
    status, second = await service.call(
        "POST", f"/instances/{iid}/credentials?wait=120", token, json={"name": binding}
    )
    assert status == 201, second
    for cred in (first, second):
        assert cred["status"] == "active"
        assert cred["id"].startswith("cr-")
        assert cred["username"].startswith("b_")
        assert len(cred["username"]) == 14
        assert cred["connection"]["username"] == cred["username"]
        assert cred["connection"]["port"] == app["port"]
        assert cred["connection"]["uri"].startswith(f"{engine}://{cred['username']}:")
        assert (cred["connection"]["database"] is None) == (engine == "redis")
    c1, c2 = first["connection"], second["connection"]
    assert len({c1["username"], c2["username"], app["username"]}) == 3
    assert len({c1["password"], c2["password"], app["password"]}) == 3
    assert _use(engine, c1, "a") == c1["username"]
    assert _use(engine, c2, "b") == c2["username"]

    # The same name again: the same credential, 200, nothing recorded.
    ops = await db.fetchval("SELECT count(*) FROM operations WHERE instance_id = $1", iid)
    status, again = await service.call("POST", f"/instances/{iid}/credentials", token, json={"name": "first"})
    assert status == 200, again
    assert again["id"] == first["id"]
    assert again["connection"] == c1
    assert await db.fetchval("SELECT count(*) FROM operations WHERE instance_id = $1", iid) == ops

    # The list: both, no password.
    status, listing = await service.call("GET", f"/instances/{iid}/credentials", token)
    assert status == 200, listing
    assert [c["name"] for c in listing["items"]] == ["first", binding]
    text = json.dumps(listing)
    assert c1["password"] not in text
    assert c2["password"] not in text
    assert "connection" not in listing["items"][0]

    # Delete the first while one of its connections is open: both refused at once.
    held = _open(engine, c1)
    status, _ = await service.call("DELETE", f"/instances/{iid}/credentials/first?wait=120", token)
    assert status == 204
    with pytest.raises(_REFUSED):
        _still_serves(engine, held)
    with pytest.raises(_REFUSED):
        _open(engine, c1)
    assert _use(engine, c2, "c") == c2["username"]
    assert _use(engine, app, "d") == app["username"]
    assert (await service.call("GET", f"/instances/{iid}/credentials/first", token))[0] == 404
    status, listing = await service.call("GET", f"/instances/{iid}/credentials", token)
    assert [c["name"] for c in listing["items"]] == [binding]

    # A rotation of the application password and a restart keep the second credential.
    status, rotated = await service.call("POST", f"/instances/{iid}/rotate-password?wait=120", token, json={})
    assert status == 200, rotated
    status, restarted = await service.call("POST", f"/instances/{iid}/restart?wait=180", token)
    assert status == 200, restarted
    assert _use(engine, c2, "e") == c2["username"]
    assert _use(engine, rotated["connection"], "f") == app["username"]
    with pytest.raises(_REFUSED):
        _open(engine, c1)

    # No password of a credential in anything the service wrote or logged.
    for secret in (c1["password"], c2["password"]):
        assert _files_holding(session_dir, secret) == []
        assert not any(secret.encode() in content for content in run_dirs)
        assert secret not in caplog.text
        rows = await db.fetch(
            "SELECT params::text, facts::text, error FROM operations WHERE instance_id = $1", iid
        )
        assert all(secret not in str(tuple(r)) for r in rows)

    assert any(b"credential_password_hash" in content for content in run_dirs), "no bind run was seen"
    assert (await service.call("DELETE", f"/instances/{iid}?wait=120", token))[0] == 204
    assert (
        await db.fetchval(
            "SELECT count(*) FROM instance_credentials WHERE instance_id = $1 AND removed_at IS NULL", iid
        )
        == 0
    )
