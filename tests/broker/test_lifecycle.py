"""The Open Service Broker API as a platform drives it, over HTTP against the real service:
catalog -> provision -> last_operation -> bind -> connect with the binding's credentials (real
redis-py / PyMySQL) -> second binding -> unbind the first -> first refused, second works ->
plan update the server takes -> deprovision -> 410."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import asyncpg
import pymysql
import pytest
import redis

from tests.broker.osb import CATALOG, Platform, identity, new_id, plan_ids, provision_body
from tests.helpers import Api, admin_password_of

MIB = 1024 * 1024
ASYNC = {"accepts_incomplete": "true"}


def redis_client(creds: dict[str, object]) -> redis.Redis:
    return redis.Redis(
        host=str(creds["host"]),
        port=int(creds["port"]),  # type: ignore[call-overload]
        username=str(creds["username"]),
        password=str(creds["password"]),
        socket_timeout=10,
        decode_responses=True,
    )


def mysql_client(creds: dict[str, object], ca: Path | None = None) -> pymysql.connections.Connection:
    """`ca`: verify the server (certificate and host name) against that CA bundle."""
    tls: dict[str, Any] = {"ssl": {"ca": str(ca), "check_hostname": True}} if ca else {"ssl_disabled": True}
    return pymysql.connect(
        host=str(creds["host"]),
        port=int(creds["port"]),  # type: ignore[call-overload]
        user=str(creds["username"]),
        password=str(creds["password"]),
        database=str(creds["database"]),
        connect_timeout=10,
        **tls,
    )


async def test_the_catalog_offers_both_engines_with_plans_and_schemas(service: Api) -> None:
    status, body = await Platform(service).call("GET", "/catalog")
    assert status == 200, body
    services = {s["name"]: s for s in body["services"]}
    assert set(services) == {"mysql", "redis"}
    for name, offered in services.items():
        assert offered["id"] == CATALOG.services[name].id
        for flag in ("bindable", "instances_retrievable", "bindings_retrievable", "plan_updateable"):
            assert offered[flag] is True, (name, flag)
        assert {p["name"] for p in offered["plans"]} == {"small", "medium", "large"}
        for plan in offered["plans"]:
            assert plan["id"] == CATALOG.get(name, plan["name"]).id  # type: ignore[union-attr]
            create = plan["schemas"]["service_instance"]["create"]["parameters"]
            assert create["$schema"] == "http://json-schema.org/draft-04/schema#"
            assert create["additionalProperties"] is False
            assert plan["schemas"]["service_binding"]["create"]["parameters"]["properties"] == {}
    small = {p["name"]: p for p in services["redis"]["plans"]}["small"]
    props = small["schemas"]["service_instance"]["create"]["parameters"]["properties"]
    assert props["maxclients"]["maximum"] == 1000
    assert props["maxclients"]["default"] == 1000
    assert "maxmemory" not in props  # fixed by the plan


async def test_a_redis_service_instance_through_its_whole_life(
    service: Api, admin_token: str, db: asyncpg.Pool, session_dir: Path
) -> None:
    osb = Platform(service)
    iid = new_id()
    path = f"/service_instances/{iid}"
    small = plan_ids("redis", "small")
    asked = {
        **provision_body("redis", "small"),
        "parameters": {"maxmemory_policy": "allkeys-lru"},
        "context": {"platform": "cloudfoundry"},
    }

    status, body = await osb.call(
        "PUT",
        path,
        params=ASYNC,
        json=asked,
        headers={"X-Broker-API-Originating-Identity": identity("alice")},
    )
    assert status == 202, body
    create_op = body["operation"]
    status, body = await osb.call("PUT", path, params=ASYNC, json=asked)
    assert status in (200, 202), body  # identical repeat: no second instance
    status, body = await osb.call("PUT", path, params=ASYNC, json={**asked, **plan_ids("redis", "medium")})
    assert status == 409, body
    done = await osb.poll(path, create_op)
    assert done["state"] == "succeeded", done
    status, body = await osb.call("PUT", path, params=ASYNC, json=asked)
    assert (status, body) == (200, {})

    status, fetched = await osb.call("GET", path)
    assert status == 200, fetched
    assert fetched["plan_id"] == small["plan_id"]
    assert fetched["parameters"]["maxmemory_policy"] == "allkeys-lru"
    recorded = await db.fetchval("SELECT identity FROM broker_operations WHERE operation_id = $1", create_op)
    assert recorded == {"platform": "cloudfoundry", "value": {"user_id": "alice"}}

    # An ordinary instance, owned by the broker's account: admins see it in /api/v1.
    instance_id = await db.fetchval("SELECT instance_id FROM broker_instances WHERE osb_id = $1", iid)
    status, inst = await service.call("GET", f"/instances/{instance_id}", admin_token)
    assert status == 200, inst
    assert (inst["owner"], inst["status"], inst["plan"]) == ("osb-broker", "running", "small")
    assert inst["settings"]["maxmemory"] == 128 * MIB

    # Two bindings, each its own ACL user.
    first, second = new_id(), new_id()
    status, body = await osb.call(
        "PUT", f"{path}/service_bindings/{first}", params=ASYNC, json={**small, "app_guid": "app-1"}
    )
    assert status == 202, body
    done = await osb.poll(f"{path}/service_bindings/{first}", body["operation"])
    assert done["state"] == "succeeded", done
    status, got = await osb.call("GET", f"{path}/service_bindings/{first}")
    assert status == 200, got
    one = got["credentials"]
    assert set(one) >= {"uri", "host", "port", "username", "password"}
    c1 = redis_client(one)
    assert c1.set("shared", "from-first")
    assert c1.get("shared") == "from-first"

    status, body = await osb.call(
        "PUT", f"{path}/service_bindings/{second}", json={**small, "app_guid": "app-2"}
    )
    assert status == 201, body  # a platform without async bindings gets them at once
    two = body["credentials"]
    assert two["username"] != one["username"]
    assert two["password"] != one["password"]
    status, again = await osb.call(
        "PUT", f"{path}/service_bindings/{second}", json={**small, "app_guid": "app-2"}
    )
    assert (status, again["credentials"]) == (200, two)
    status, body = await osb.call(
        "PUT", f"{path}/service_bindings/{second}", json={**small, "app_guid": "app-3"}
    )
    assert status == 409, body
    c2 = redis_client(two)
    assert c2.get("shared") == "from-first"  # the same data, the application user's rights

    # Unbind the first: its user is gone (and its open connection closed), the second works.
    status, body = await osb.call("DELETE", f"{path}/service_bindings/{first}", params={**ASYNC, **small})
    assert status == 202, body
    done = await osb.poll(f"{path}/service_bindings/{first}", body["operation"])
    assert done["state"] == "succeeded", done
    with pytest.raises(
        (
            redis.exceptions.AuthenticationError,
            redis.exceptions.ConnectionError,
            redis.exceptions.ResponseError,
        )
    ):
        redis_client(one).ping()
    assert c2.set("after", "unbind")
    assert c2.get("after") == "unbind"
    status, body = await osb.call("DELETE", f"{path}/service_bindings/{first}", params={**ASYNC, **small})
    assert (status, body) == (410, {})
    status, body = await osb.call("GET", f"{path}/service_bindings/{first}")
    assert status == 404, body

    # A plan update is a settings change the server takes; the bindings keep working.
    medium = plan_ids("redis", "medium")
    status, body = await osb.call(
        "PATCH", path, params=ASYNC, json={"service_id": medium["service_id"], "plan_id": medium["plan_id"]}
    )
    assert status == 202, body
    done = await osb.poll(path, body["operation"])
    assert done["state"] == "succeeded", done
    status, fetched = await osb.call("GET", path)
    assert fetched["plan_id"] == medium["plan_id"]
    admin = redis.Redis(
        host=two["host"],
        port=two["port"],
        username="dbvend-admin",
        password=await admin_password_of(db, session_dir / "state", instance_id),
        decode_responses=True,
    )
    assert admin.config_get("maxmemory") == {"maxmemory": str(512 * MIB)}
    assert redis_client(two).get("after") == "unbind"

    # Deprovision: 202, then the instance and its bindings are gone, and a repeat is 410.
    status, body = await osb.call("DELETE", path, params={**ASYNC, **medium})
    assert status == 202, body
    done = await osb.poll(path, body["operation"])
    assert done["state"] == "succeeded", done
    status, body = await osb.call("DELETE", path, params={**ASYNC, **medium})
    assert (status, body) == (410, {})
    status, body = await osb.call("GET", path)
    assert status == 404, body


async def test_a_mysql_binding_is_a_user_of_the_instances_database_only(service: Api, tmp_path: Path) -> None:
    """With tls=required (a plan's settable setting): the binding carries the CA bundle
    (credentials.tls_ca), which is all an application needs to verify the server."""
    osb = Platform(service)
    iid = new_id()
    path = f"/service_instances/{iid}"
    small = plan_ids("mysql", "small")
    status, body = await osb.call(
        "PUT",
        path,
        params=ASYNC,
        json={**provision_body("mysql", "small"), "parameters": {"charset": "utf8mb4", "tls": "required"}},
    )
    assert status == 202, body
    assert (await osb.poll(path, body["operation"]))["state"] == "succeeded"
    first, second = new_id(), new_id()
    creds = []
    for binding in (first, second):
        status, body = await osb.call("PUT", f"{path}/service_bindings/{binding}", json=small)
        assert status == 201, body
        creds.append(body["credentials"])
    one, two = creds
    assert one["database"] == two["database"]
    assert one["uri"].startswith("mysql://")
    assert one["tls"]["mode"] == "required"
    assert one["tls_ca"] == two["tls_ca"]
    ca = tmp_path / "ca.pem"
    ca.write_text(one["tls_ca"])
    assert "BEGIN CERTIFICATE" in ca.read_text()
    with pytest.raises(pymysql.err.OperationalError):
        mysql_client(one).close()  # plain: refused by a required server
    with mysql_client(one, ca) as conn, conn.cursor() as cur:
        cur.execute("CREATE TABLE t (v int)")
        cur.execute("INSERT INTO t VALUES (1)")
        conn.commit()
        cur.execute("SHOW DATABASES")
        assert {r[0] for r in cur.fetchall()} <= {one["database"], "information_schema"}
    status, body = await osb.call("DELETE", f"{path}/service_bindings/{first}", params=small)
    assert status == 200, body  # without accepts_incomplete: answered once done
    with pytest.raises(pymysql.err.OperationalError):
        mysql_client(one, ca).close()
    with mysql_client(two, ca) as conn, conn.cursor() as cur:
        cur.execute("SELECT v FROM t")
        assert cur.fetchall() == ((1,),)
    status, body = await osb.call("DELETE", path, params={**ASYNC, **small})
    assert status == 202, body
    assert (await osb.poll(path, body["operation"]))["state"] == "succeeded"
