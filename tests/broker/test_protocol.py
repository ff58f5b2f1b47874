"""The broker's refusals: credentials (401), API version (412), async-only (422 AsyncRequired),
unknown ids and bad parameters (400), a different repeat (409), gone (410), hostile ids and
headers; and the broker off and its production password rule."""

from __future__ import annotations

from pathlib import Path

import asyncpg
import pytest
from cryptography.fernet import Fernet

from service.config import ConfigError
from tests.broker.osb import BROKER_AUTH, Platform, basic, new_id, plan_ids, provision_body
from tests.helpers import BROKER_USERNAME, Api, service_env, settings_from_env

ASYNC = {"accepts_incomplete": "true"}


async def counts(db: asyncpg.Pool) -> tuple[int, int, int]:
    row = await db.fetchrow(
        "SELECT (SELECT count(*) FROM instances) AS i, (SELECT count(*) FROM operations) AS o,"
        " (SELECT count(*) FROM broker_instances) AS b"
    )
    assert row is not None
    return row["i"], row["o"], row["b"]


async def test_credentials_and_the_api_version_are_checked_first(service: Api) -> None:
    osb = Platform(service)
    for auth in (
        basic(BROKER_USERNAME, "wrong"),
        basic("someone", "x"),
        basic("", ""),
        basic(BROKER_USERNAME, ""),
    ):
        status, body = await osb.call("GET", "/catalog", auth=auth)
        assert status == 401, body
        assert "description" in body
    async with service.client.get("/v2/catalog", headers={"X-Broker-API-Version": "2.17"}) as resp:
        assert resp.status == 401
        assert resp.headers["WWW-Authenticate"].startswith("Basic")
    for header in ("Bearer abc", "Basic !!!", "Basic " + "A" * 5000):
        async with service.client.get(
            "/v2/catalog", headers={"X-Broker-API-Version": "2.17", "Authorization": header}
        ) as resp:
            assert resp.status in (400, 401), header
    for version in ("2.12", "1.99", "3.0", "two", "2.17.1", "2.-1", ""):
        status, body = await osb.call("GET", "/catalog", headers={"X-Broker-API-Version": version})
        assert status in (400, 412), (version, body)
    async with service.client.get(
        "/v2/catalog", headers={"Authorization": basic(BROKER_USERNAME, "x")}
    ) as resp:
        assert resp.status == 401  # no version header, but the credentials come first
    status, body = await osb.call("GET", "/catalog", headers={"X-Broker-API-Version": "2.13"})
    assert status == 200, body


async def test_changes_are_asynchronous_only(service: Api, db: asyncpg.Pool) -> None:
    osb = Platform(service)
    before = await counts(db)
    for params in ({}, {"accepts_incomplete": "false"}):
        status, body = await osb.call(
            "PUT", f"/service_instances/{new_id()}", params=params, json=plan_ids("redis", "small")
        )
        assert status == 422, body
        assert body["error"] == "AsyncRequired"
    status, body = await osb.call(
        "PUT",
        f"/service_instances/{new_id()}",
        params={"accepts_incomplete": "yes"},
        json=plan_ids("redis", "small"),
    )
    assert status == 400, body
    assert await counts(db) == before


async def test_bad_provision_requests_are_400_and_record_nothing(service: Api, db: asyncpg.Pool) -> None:
    osb = Platform(service)
    small = provision_body("redis", "small")
    mysql = plan_ids("mysql", "small")
    before = await counts(db)
    bad = [
        {**small, "plan_id": new_id()},
        {**small, "service_id": new_id()},
        {**small, "service_id": mysql["service_id"]},
        {**small, "plan_id": mysql["plan_id"]},
        {k: v for k, v in small.items() if k != "organization_guid"},
        {k: v for k, v in small.items() if k != "space_guid"},
        {**small, "space_guid": ""},
        {**small, "organization_guid": "o" * 201},
        {**small, "parameters": {"maxmemory": "1gb"}},
        {**small, "parameters": {"maxclients": 5000}},
        {**small, "parameters": {"nope": 1}},
        {**small, "parameters": {"maxmemory_policy": " " * 60000}},
        {**small, "parameters": {f"k{i}": 1 for i in range(40)}},
        {"plan_id": small["plan_id"]},
        {**small, "service_id": "x" * 300},
        {**small, "parameters": "maxclients=5"},
    ]
    for body in bad:
        status, answer = await osb.call("PUT", f"/service_instances/{new_id()}", params=ASYNC, json=body)
        assert status == 400, (body, answer)
        assert isinstance(answer.get("description"), str), answer
        assert answer["description"], answer
        assert "password" not in answer["description"].lower()
    for raw in (b"{", b"[]", b'{"service_id": 1e999}', b"\xff\xfe"):
        async with service.client.put(
            f"/v2/service_instances/{new_id()}",
            params=ASYNC,
            data=raw,
            headers={
                "Content-Type": "application/json",
                "X-Broker-API-Version": "2.17",
                "Authorization": BROKER_AUTH,
            },
        ) as resp:
            assert resp.status == 400, raw
            assert "description" in await resp.json()
    for instance_id in ("a" * 201, "a%0Ab", "..", "a b", "%00"):
        status, answer = await osb.call("PUT", f"/service_instances/{instance_id}", params=ASYNC, json=small)
        assert status in (400, 404), (instance_id, answer)
    bad_identity = ["cloudfoundry", "cloudfoundry !!!", "cloudfoundry WyJhIl0=", "CF e30=", "x " + "A" * 5000]
    for header in bad_identity:
        status, answer = await osb.call(
            "PUT",
            f"/service_instances/{new_id()}",
            params=ASYNC,
            json=small,
            headers={"X-Broker-API-Originating-Identity": header},
        )
        assert status == 400, (header, answer)
    assert await counts(db) == before


async def test_gone_and_missing_things(service: Api) -> None:
    osb = Platform(service)
    small = plan_ids("redis", "small")
    missing = f"/service_instances/{new_id()}"
    status, body = await osb.call("DELETE", missing, params={**ASYNC, **small})
    assert (status, body) == (410, {})
    status, body = await osb.call("DELETE", missing, params=ASYNC)
    assert status == 400, body  # service_id and plan_id are required
    status, body = await osb.call("GET", missing)
    assert status == 404, body
    # last_operation of what never existed is 404 (410 is for what is gone: test_conformance).
    for params in ({}, {"operation": "op-nothing"}):
        status, body = await osb.call("GET", f"{missing}/last_operation", params=params)
        assert status == 404, (params, body)
        assert body["description"], body
        status, body = await osb.call(
            "GET", f"{missing}/service_bindings/{new_id()}/last_operation", params=params
        )
        assert status == 404, (params, body)
    status, body = await osb.call("PATCH", missing, params=ASYNC, json={"service_id": small["service_id"]})
    assert status == 404, body
    status, body = await osb.call("PUT", f"{missing}/service_bindings/{new_id()}", json=small)
    assert status == 404, body
    status, body = await osb.call("DELETE", f"{missing}/service_bindings/{new_id()}", params=small)
    assert (status, body) == (410, {})


async def test_the_broker_is_off_unless_configured_and_refuses_weak_passwords_in_production(
    database_url: str, tmp_path: Path
) -> None:
    root = tmp_path
    (root / "inv.yml").write_text("all: {hosts: {}}\n")
    env = service_env(database_url, root / "state", root / "inv.yml")
    off = settings_from_env({**env, "DBVEND_BROKER": "off"})
    assert off.broker is None
    with pytest.raises(ConfigError, match="DBVEND_BROKER_PASSWORD"):
        settings_from_env({**env, "DBVEND_BROKER_PASSWORD": ""})
    production = {**env, "DBVEND_ENV": "production", "DBVEND_SECRET_KEY": Fernet.generate_key().decode()}
    for weak in ("change-me", "short-password"):
        with pytest.raises(ConfigError, match="at least 24"):
            settings_from_env({**production, "DBVEND_BROKER_PASSWORD": weak})
    strong = settings_from_env({**production, "DBVEND_BROKER_PASSWORD": "p" * 10 + "Q8x" * 6})
    assert strong.broker is not None
    assert "p" * 10 not in repr(strong.broker)
