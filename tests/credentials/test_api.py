"""The credentials routes' refusals on a real instance: bad names (422 naming `name`),
unknown instances and names (404), another user's instance (404 on every route; an admin
sees it), a stopped instance (409), a name being deleted (409), the limit of 20 (409),
and an instance's delete cancelling binds not begun. A MySQL restore, and a Redis
reconfigure, backup and restore, keep a credential."""

from __future__ import annotations

from typing import Any

import asyncpg
import pymysql
import pytest
import redis

from tests.conftest import UserFactory
from tests.helpers import Api, wait_until


def _fields(body: dict[str, Any]) -> list[str]:
    return [d["field"] for d in body["error"]["details"] or []]


async def test_refusals_tenancy_limit_and_delete(
    service: Api, make_user: UserFactory, admin_token: str, db: asyncpg.Pool
) -> None:
    _, token = await make_user("crd")
    _, other = await make_user("crd-other")
    status, inst = await service.call("POST", "/instances?wait=240", token, json={"engine": "redis"})
    assert status == 201, inst
    iid = inst["id"]
    base = f"/instances/{iid}/credentials"

    for body in (
        {"name": ""},
        {"name": "a b"},
        {"name": "x" * 65},
        {"name": "ok\n"},
        {"name": "é"},
        {"name": 5},
        {},
        {"name": "ok", "extra": 1},
    ):
        status, err = await service.call("POST", base, token, json=body)
        assert status == 422, (body, err)
        assert err["error"]["code"] == "validation_error"
        assert set(_fields(err)) <= {"name", "extra"}
        assert _fields(err)
    assert await db.fetchval("SELECT count(*) FROM instance_credentials WHERE instance_id = $1", iid) == 0

    for method, path in (
        ("GET", "/instances/i-nonesuch/credentials"),
        ("GET", f"{base}/nonesuch"),
        ("DELETE", f"{base}/nonesuch"),
        ("DELETE", f"{base}/bad%0Aname"),
        ("GET", f"{base}/{'x' * 300}"),
    ):
        assert (await service.call(method, path, token))[0] == 404, path
    assert (await service.call("POST", "/instances/i-nonesuch/credentials", token, json={"name": "a"}))[
        0
    ] == 404

    status, one = await service.call("POST", f"{base}?wait=120", token, json={"name": "one"})
    assert status == 201, one
    # Another user: the instance does not exist for them, whatever the route.
    assert (await service.call("GET", base, other))[0] == 404
    assert (await service.call("GET", f"{base}/one", other))[0] == 404
    assert (await service.call("DELETE", f"{base}/one", other))[0] == 404
    assert (await service.call("POST", base, other, json={"name": "mine"}))[0] == 404
    assert (await service.call("POST", base, other, json={"name": "one"}))[0] == 404
    status, seen = await service.call("GET", f"{base}/one", admin_token)
    assert status == 200
    assert seen["connection"] == one["connection"]

    # One whose bind failed is bound again when asked for: same user, a new password.
    await db.execute(
        "UPDATE instance_credentials SET status = 'failed', error = 'bind failed (test)' WHERE id = $1",
        one["id"],
    )
    status, rebound = await service.call("POST", f"{base}?wait=120", token, json={"name": "one"})
    assert status == 201, rebound
    assert rebound["status"] == "active"
    assert (rebound["id"], rebound["username"]) == (one["id"], one["username"])
    assert rebound["connection"]["password"] != one["connection"]["password"]
    c = rebound["connection"]
    assert redis.Redis(host=c["host"], port=c["port"], username=c["username"], password=c["password"]).ping()
    with pytest.raises(redis.exceptions.AuthenticationError):
        redis.Redis(
            host=c["host"], port=c["port"], username=c["username"], password=one["connection"]["password"]
        ).ping()

    # A stopped instance takes no new credential and removes none.
    assert (await service.call("POST", f"/instances/{iid}/stop?wait=120", token))[0] == 200
    status, err = await service.call("POST", base, token, json={"name": "two"})
    assert status == 409, err
    assert _fields(err) == ["status"]
    assert (await service.call("DELETE", f"{base}/one", token))[0] == 409
    status, stopped_view = await service.call("GET", f"{base}/one", token)
    assert stopped_view["status"] == "active"
    assert (await service.call("POST", f"/instances/{iid}/start?wait=180", token))[0] == 200

    # While its unbind is open, the name is taken: 409 naming it; a second DELETE answers
    # the same operation.
    status, op = await service.call("DELETE", f"{base}/one", token)
    assert status == 202, op
    assert op["kind"] == "unbind"
    status, again = await service.call("DELETE", f"{base}/one", token)
    if status == 202:
        assert again["id"] == op["id"]
        status, err = await service.call("POST", base, token, json={"name": "one"})
        if status == 409:
            assert _fields(err) == ["name"]

    async def unbound() -> bool:
        return await db.fetchval("SELECT status FROM operations WHERE id = $1", op["id"]) == "succeeded"

    assert await wait_until(unbound, 120)
    assert (await service.call("GET", f"{base}/one", token))[0] == 404
    # A removal that failed keeps the name taken (the user may still be on the server)
    # until a DELETE succeeds.
    await db.execute(
        "UPDATE instance_credentials SET removed_at = NULL, status = 'failed' WHERE id = $1", one["id"]
    )
    status, err = await service.call("POST", base, token, json={"name": "one"})
    assert status == 409, err
    assert _fields(err) == ["name"]
    assert (await service.call("DELETE", f"{base}/one?wait=120", token))[0] == 204

    # At most 20: the 21st is refused before anything is recorded.
    for n in range(20):
        status, made = await service.call("POST", base, token, json={"name": f"c{n}"})
        assert status in (201, 202), made
    status, err = await service.call("POST", base, token, json={"name": "c20"})
    assert status == 409, err
    assert "20 credentials" in err["error"]["message"]
    status, listing = await service.call("GET", base, token)
    assert len(listing["items"]) == 20

    # The instance's delete cancels the binds not begun and removes every credential.
    assert (await service.call("DELETE", f"/instances/{iid}?wait=240", token))[0] == 204
    cancelled = await db.fetchval(
        "SELECT count(*) FROM operations WHERE instance_id = $1 AND kind = 'bind'"
        " AND error LIKE 'cancelled%'",
        iid,
    )
    assert cancelled > 0
    assert (
        await db.fetchval(
            "SELECT count(*) FROM instance_credentials WHERE instance_id = $1 AND removed_at IS NULL", iid
        )
        == 0
    )
    assert (await service.call("GET", base, token))[0] == 404


@pytest.mark.slow
async def test_mysql_restore_keeps_the_credential(service: Api, make_user: UserFactory) -> None:
    _, token = await make_user("crd-restore")
    status, inst = await service.call("POST", "/instances?wait=240", token, json={"engine": "mysql"})
    assert status == 201, inst
    iid = inst["id"]
    status, cred = await service.call(
        "POST", f"/instances/{iid}/credentials?wait=120", token, json={"name": "r"}
    )
    assert status == 201, cred
    c = cred["connection"]

    def rows(sql: str) -> list[tuple[Any, ...]]:
        with (
            pymysql.connect(
                host=c["host"],
                port=c["port"],
                user=c["username"],
                password=c["password"],
                database=c["database"],
                connect_timeout=10,
                autocommit=True,
            ) as conn,
            conn.cursor() as cur,
        ):
            cur.execute(sql)
            return list(cur.fetchall())

    rows("CREATE TABLE t (v int)")
    rows("INSERT INTO t VALUES (1)")
    status, backup = await service.call("POST", f"/instances/{iid}/backups?wait=240", token)
    assert status == 201, backup
    rows("INSERT INTO t VALUES (2)")
    status, done = await service.call(
        "POST", f"/instances/{iid}/restore?wait=240", token, json={"backup_id": backup["id"]}
    )
    assert status == 200, done
    assert rows("SELECT v FROM t") == [(1,)]
    assert (await service.call("DELETE", f"/instances/{iid}?wait=120", token))[0] == 204


@pytest.mark.slow
async def test_redis_reconfigure_backup_and_restore_keep_the_credential(
    service: Api, make_user: UserFactory
) -> None:
    _, token = await make_user("crd-redis")
    status, inst = await service.call("POST", "/instances?wait=240", token, json={"engine": "redis"})
    assert status == 201, inst
    iid = inst["id"]
    status, cred = await service.call(
        "POST", f"/instances/{iid}/credentials?wait=120", token, json={"name": "r"}
    )
    assert status == 201, cred
    c = cred["connection"]

    def client() -> redis.Redis:
        return redis.Redis(host=c["host"], port=c["port"], username=c["username"], password=c["password"])

    client().set("k", "before")
    status, changed = await service.call(
        "PATCH", f"/instances/{iid}?wait=120", token, json={"settings": {"maxclients": 900}}
    )
    assert status == 200, changed
    assert client().get("k") == b"before"
    status, backup = await service.call("POST", f"/instances/{iid}/backups?wait=240", token)
    assert status == 201, backup
    client().set("k", "after")
    status, done = await service.call(
        "POST", f"/instances/{iid}/restore?wait=240", token, json={"backup_id": backup["id"]}
    )
    assert status == 200, done
    assert client().get("k") == b"before"
    assert (await service.call("DELETE", f"/instances/{iid}?wait=120", token))[0] == 204
