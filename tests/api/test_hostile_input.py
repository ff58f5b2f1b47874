"""Hostile input against the running service (issue 8, holes 1, 2 and 4): every request
here used to freeze the event loop, slip a system database through, or answer 500. Each
must now be a quick 4xx in the one error shape, naming the field, recording nothing."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from typing import Any

import asyncpg
import pytest

from tests.api.test_validation import counts
from tests.conftest import UserFactory
from tests.helpers import Api

# The body limit is 64 KiB; leave room for the JSON around the spaces.
SPACES_64K = 64 * 1024 - 200


def fields(reply: dict[str, Any]) -> set[str]:
    return {d["field"] for d in reply["error"].get("details", [])}


async def raw_request(service: Api, head: bytes, body: bytes = b"") -> tuple[int, bytes]:
    """Bytes the aiohttp client would refuse to send (undecodable header bytes)."""
    server = service.client.server
    reader, writer = await asyncio.open_connection(server.host, server.port)
    try:
        writer.write(head + b"\r\nHost: test\r\nConnection: close\r\n\r\n" + body)
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(), 30)
    finally:
        writer.close()
    status_line, _, rest = answer.partition(b"\r\n")
    return int(status_line.split()[1]), rest


# -- hole 1: one request must not freeze the service --------------------------------------


@pytest.mark.parametrize("spaces", [20_000, SPACES_64K])
async def test_long_maxmemory_is_refused_at_once_and_the_loop_stays_free(
    service: Api, make_user: UserFactory, db: asyncpg.Pool, spaces: int
) -> None:
    _, token = await make_user("hostile")
    before = await counts(db)
    body = {"engine": "redis", "settings": {"maxmemory": "1" + " " * spaces + "!"}}
    started = time.perf_counter()
    create = asyncio.ensure_future(service.call("POST", "/instances", token, json=body))
    # Asked once the create is being handled: a blocked loop would hold this one too.
    await asyncio.sleep(0.2)
    status, me = await service.call("GET", "/me", token)
    me_done = time.perf_counter() - started
    status_create, reply = await create
    create_done = time.perf_counter() - started
    assert status == 200, me
    assert status_create == 422, reply
    assert "settings.maxmemory" in fields(reply)
    # Generous bounds for a loaded 2-core box: the old regex took ~1.5 s for 20k spaces
    # and ~15 s for 64 KiB; the parse itself now takes microseconds.
    assert create_done < 1.0, f"the create took {create_done:.2f} s"
    assert me_done < 1.5, f"GET /me waited {me_done:.2f} s"
    assert await counts(db) == before


async def test_long_rule_duration_is_refused_at_once(service: Api, admin_token: str) -> None:
    body = {"name": "HostileDuration", "condition": "instance_down", "for": "1" + " " * SPACES_64K + "!"}
    started = time.perf_counter()
    status, reply = await service.call("POST", "/rules", admin_token, json=body)
    elapsed = time.perf_counter() - started
    assert status == 422, reply
    assert "for" in fields(reply)
    assert elapsed < 1.0, f"the rule took {elapsed:.2f} s"


# -- hole 2: no system database, whatever the spelling ---------------------------------------


@pytest.mark.parametrize(
    "database",
    [
        "mysql\n",
        "MYSQL",
        "mysql\r",
        "sys",
        "#mysql50#x",
        "#MYSQL50#mysql",
        "information_schema",
        "Performance_Schema",
        " mysql",
        "mysql\t",
        "x" * 65,
        "a" * 70_000,
    ],
)
async def test_system_databases_are_refused(
    service: Api, make_user: UserFactory, db: asyncpg.Pool, database: str
) -> None:
    _, token = await make_user("hostile")
    before = await counts(db)
    body = {"engine": "mysql", "settings": {"database": database}}
    status, reply = await service.call("POST", "/instances", token, json=body)
    assert status in (413, 422), reply
    if status == 422:
        assert fields(reply) == {"settings.database"}
        assert len(json.dumps(reply)) < 2000  # the value is not echoed back whole
    assert await counts(db) == before


async def test_names_that_only_look_valid_are_refused(service: Api, make_user: UserFactory) -> None:
    _, token = await make_user("hostile")
    for body, field in [
        ({"engine": "redis", "name": "orders\n"}, "name"),
        ({"engine": "redis", "name": "a" * 64}, "name"),
        ({"engine": "mysql", "settings": {"charset": "x" * 40_000}}, "settings.charset"),
        ({"engine": "mysql", "settings": {"collation": "x" * 100}}, "settings.collation"),
        ({"engine": "redis", "settings": {f"k{i}": 1 for i in range(17)}}, "settings"),
    ]:
        status, reply = await service.call("POST", "/instances", token, json=body)
        assert status == 422, (body, reply)
        assert field in fields(reply), reply
        assert len(json.dumps(reply)) < 4000
    status, reply = await service.call(
        "POST", "/instances", token, json={"engine": "redis", "settings": {"k" * 5000: 1}}
    )
    assert status == 422, reply
    assert all(len(f) < 200 for f in fields(reply))


async def test_label_names_and_values_are_matched_whole(service: Api, admin_token: str) -> None:
    for labels in [{"team\n": "db"}, {"team": "db\n"}, {"team": "a\x1bb"}, {f"l{i}": "x" for i in range(21)}]:
        body = {"name": "HostileLabels", "condition": "instance_down", "labels": labels}
        status, reply = await service.call("POST", "/rules", admin_token, json=body)
        assert status == 422, (labels, reply)
        assert any(f.startswith("labels") for f in fields(reply)), reply
    status, _ = await service.call("GET", "/rules/HostileLabels", admin_token)
    assert status == 404


# -- hole 4: no 500 from any body, parameter, cursor or header ------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        b'{"username": ' + b"1" * 5000 + b', "password": "x"}',
        b'{"username": "a", "password": ' + b"[" * 3000 + b"]" * 3000 + b"}",
        b"[" * 3000 + b"]" * 3000,
        b"{" * 3000,
        b'{"a":' * 40 + b"1" + b"}" * 40,
        b'{"username": "a", "password": NaN}',
        b'{"username": "a", "password": 1e999}',
        b'{"username": "a", "password": -Infinity}',
        b"\xff\xfe{}",
        b'{"username": "\xc3", "password": "x"}',
    ],
)
async def test_login_bodies_that_break_the_decoder_are_400(service: Api, raw: bytes) -> None:
    status, reply = await service.call(
        "POST", "/auth/login", data=raw, headers={"Content-Type": "application/json"}
    )
    assert status == 400, reply
    assert reply["error"]["code"] == "invalid_json"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"username": "admin\x00", "password": "x"}, "username"),
        ({"username": "\ud800", "password": "x"}, "username"),
        ({"username": "a", "password": "x\x00y"}, "password"),
        ({"username": "a", "password": "x", "\x00": 1}, "\\x00"),
    ],
)
async def test_login_strings_postgresql_cannot_store_are_422(
    service: Api, body: dict[str, Any], field: str
) -> None:
    # json.dumps keeps "\ud800" as an escape, which the service decodes to a lone surrogate.
    raw = json.dumps(body).encode()
    status, reply = await service.call(
        "POST", "/auth/login", data=raw, headers={"Content-Type": "application/json"}
    )
    assert status == 422, reply
    assert field in fields(reply)


@pytest.mark.parametrize(
    "content_type",
    ["application/json; charset=no-such-charset", "application/json; charset=utf-16", "text/plain"],
)
async def test_odd_content_types_are_415(service: Api, content_type: str) -> None:
    status, reply = await service.call(
        "POST",
        "/auth/login",
        data=b'{"username": "a", "password": "b"}',
        headers={"Content-Type": content_type},
    )
    assert status == 415, reply


async def test_strings_in_authenticated_bodies(
    service: Api, make_user: UserFactory, db: asyncpg.Pool
) -> None:
    _, token = await make_user("hostile")
    before = await counts(db)
    for path, body, field in [
        ("/instances", {"engine": "redis", "name": "a\x00"}, "name"),
        ("/instances", {"engine": "redis", "settings": {"\x00": 1}}, "settings.\\x00"),
        ("/instances", {"engine": "mysql", "settings": {"charset": "utf8\udfff"}}, "settings.charset"),
        ("/webhooks", {"url": "http://example.com/\x00"}, "url"),
        ("/alerts/1/ack", {"comment": "ok\x00"}, "comment"),
    ]:
        status, reply = await service.call(
            "POST", path, token, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
        )
        assert status == 422, (path, reply)
        assert field in fields(reply), reply
    assert await counts(db) == before


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/alerts", {"rule": "\x00"}),
        ("/alerts", {"instance_id": "i-\x00"}),
        ("/alerts", {"status": "\x00"}),
        ("/events", {"kind": "\x00"}),
        ("/events", {"instance_id": "\x00"}),
        ("/instances", {"engine": "\x00"}),
        ("/instances", {"status": "\x00"}),
        ("/instances", {"cursor": "\x00"}),
        ("/instances", {"\x00": "1"}),
        ("/alerts", {"rule": "\x85"}),
        ("/alerts", {"rule": "x" * 2000}),
    ],
)
async def test_control_characters_in_query_parameters_are_422(
    service: Api, make_user: UserFactory, path: str, params: dict[str, str]
) -> None:
    _, token = await make_user("hostile")
    status, reply = await service.call("GET", path, token, params=params)
    assert status == 422, reply
    assert fields(reply), reply


async def test_undecodable_query_bytes_are_422(service: Api, admin_token: str) -> None:
    # %ED%A0%80 is a UTF-16 surrogate in UTF-8; %FF is no UTF-8 at all.
    for query in ("rule=%ED%A0%80", "rule=%FF", "kind=%00"):
        path = "/api/v1/events?" + query if query.startswith("kind") else "/api/v1/alerts?" + query
        status, body = await raw_request(
            service, f"GET {path} HTTP/1.1\r\nAuthorization: Bearer {admin_token}".encode()
        )
        assert status in (200, 422), (query, body[-300:])


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        "!!!!",
        "%%%",
        "é",
        "a",
        _b64(b"not json"),
        _b64(b"\xff\xfe"),
        _b64(json.dumps({"a": 1, "b": 2}).encode()),
        _b64(json.dumps("ab").encode()),
        _b64(json.dumps(["2026-01-01T00:00:00+00:00"]).encode()),
        _b64(json.dumps(["2026-01-01T00:00:00+00:00", "i-abc", "x"]).encode()),
        _b64(json.dumps(["yesterday", "i-abcdefgh"]).encode()),
        _b64(json.dumps([1, 2]).encode()),
        _b64(json.dumps([None, "i-abcdefgh"]).encode()),
        _b64(json.dumps(["2026-01-01T00:00:00+00:00", "i-\x00"]).encode()),
        _b64(json.dumps(["2026-01-01T00:00:00+00:00", "i-\ud800"]).encode()),
        _b64(json.dumps(["2026-01-01T00:00:00+00:00", 5]).encode()),
        _b64(json.dumps(["2026-01-01T00:00:00+00:00", "i-" + "x" * 500]).encode()),
        _b64(json.dumps(["0001-01-01T00:00:00+05:00", "i-abcdefgh"]).encode()),
        _b64(json.dumps(["9999-12-31T23:59:59-05:00", "i-abcdefgh"]).encode()),
        _b64(json.dumps(["2026-01-01T00:00:00", "i-abcdefgh"]).encode()),
        _b64(b"[" * 3000 + b"]" * 3000),
        _b64(b"[" + b"1" * 5000 + b', "i-abcdefgh"]'),
        "A" * 1000,
        "A" * 5000,
    ],
)
async def test_malformed_cursors_are_422_naming_cursor(
    service: Api, make_user: UserFactory, cursor: str
) -> None:
    _, token = await make_user("hostile")
    status, reply = await service.call("GET", "/instances", token, params={"cursor": cursor})
    assert status == 422, reply
    assert fields(reply) == {"cursor"}


async def test_a_cursor_this_api_gave_out_still_works(service: Api, make_user: UserFactory) -> None:
    from datetime import UTC, datetime

    from service.web.cursors import encode_cursor

    _, token = await make_user("hostile")
    cursor = encode_cursor(datetime.now(UTC), "i-zzzzzzzz")
    status, reply = await service.call("GET", "/instances", token, params={"cursor": cursor})
    assert status == 200, reply
    assert reply == {"items": [], "next_cursor": None}


@pytest.mark.parametrize(
    "path",
    [
        "/instances/%00",
        "/instances/" + "x" * 5000,
        "/instances/%C2%85",
        "/operations/%00",
        "/instances/%00/metrics",
        "/alerts/%D9%A1%D9%A2",  # Arabic-Indic "12": an id in digits, but not ASCII ones
        "/alerts/99999999999999999999999",
        "/webhooks/%00",
        "/rules/%00",
        "/rules/" + "R" * 1000,
        "/hosts/%00/drain",
    ],
)
async def test_hostile_path_parameters_are_not_found(service: Api, admin_token: str, path: str) -> None:
    method = "POST" if path.endswith("/drain") else "GET"
    status, reply = await service.call(method, path, admin_token)
    assert status == 404, reply
    assert reply["error"]["code"] == "not_found"


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("limit=1e99", "limit"),
        ("limit=%D9%A1%D9%A2", "limit"),  # "١٢": int() would read it as 12
        ("limit=1_0", "limit"),
        ("limit=+5", "limit"),
        ("limit=%205", "limit"),
        ("limit=" + "9" * 5000, "limit"),
        ("limit=99999999999999999999", "limit"),
        ("limit=-", "limit"),
    ],
)
async def test_integers_in_the_query_are_ascii_digits(
    service: Api, make_user: UserFactory, query: str, field: str
) -> None:
    _, token = await make_user("hostile")
    status, reply = await service.call("GET", "/instances?" + query, token)
    assert status == 422, reply
    assert fields(reply) == {field}


async def test_wait_and_before_out_of_range(service: Api, make_user: UserFactory) -> None:
    _, token = await make_user("hostile")
    status, reply = await service.call("POST", "/instances?wait=-1", token, json={"engine": "redis"})
    assert status == 422
    assert fields(reply) == {"wait"}
    status, reply = await service.call("GET", "/events?before=99999999999999999999", token)
    assert status == 422
    assert fields(reply) == {"before"}


@pytest.mark.parametrize(
    "authorization",
    [
        b"Bearer \xff\xfe\xfd",
        b"Bearer dbv_\xc3\xa9",
        b"Bearer " + b"A" * 6000,
        b"Bearer a b c",
        b"bearer",
        b"Basic YWRtaW46YWRtaW4=",
    ],
)
async def test_odd_authorization_headers_are_401(service: Api, authorization: bytes) -> None:
    status, body = await raw_request(service, b"GET /api/v1/me HTTP/1.1\r\nAuthorization: " + authorization)
    assert status == 401, body[-300:]
    assert b'"unauthorized"' in body


@pytest.mark.parametrize(
    "request_id", [b"\xff\xfe", b"caf\xc3\xa9", b"a b", b"x" * 100, b"<script>", b"ok;\x7f"]
)
async def test_odd_request_ids_are_replaced_not_echoed(service: Api, request_id: bytes) -> None:
    status, body = await raw_request(service, b"GET /api/v1/me HTTP/1.1\r\nX-Request-Id: " + request_id)
    assert status in (400, 401), body[-300:]
    if status == 401:
        head = body.partition(b"\r\n\r\n")[0]
        echoed = [line for line in head.split(b"\r\n") if line.lower().startswith(b"x-request-id:")]
        assert len(echoed) == 1
        assert request_id not in echoed[0]


async def test_a_plain_request_id_is_still_echoed(service: Api) -> None:
    async with service.client.get("/api/v1/me", headers={"X-Request-Id": "req-42.a:b"}) as resp:
        assert resp.status == 401
        assert resp.headers["X-Request-Id"] == "req-42.a:b"


async def test_a_body_of_unknown_keys_answers_a_bounded_error(service: Api) -> None:
    body = {f"k{i}": 1 for i in range(5000)}
    status, reply = await service.call("POST", "/auth/login", json=body)
    assert status == 422
    assert len(reply["error"]["details"]) <= 20
    assert "more" in reply["error"]["message"]
    assert len(json.dumps(reply)) < 5000


async def test_a_row_stored_before_a_rule_was_tightened_stays_readable(
    service: Api, make_user: UserFactory, db: asyncpg.Pool
) -> None:
    """An instance named "mysql" used to get database "mysql"; its owner can still read it."""
    from service.app import RUNTIME
    from service.db import instances
    from service.engines import get_engine

    username, token = await make_user("hostile")
    owner_id = await db.fetchval("SELECT id FROM users WHERE username = $1", username)
    box = service.client.server.app[RUNTIME].box
    mysql = get_engine("mysql")
    creds = mysql.new_credentials()
    stored = mysql.parse_settings(None, instance_name="legacy").model_dump(mode="json") | {
        "database": "mysql"
    }
    instance_id = "i-legacy" + username[-4:]
    await instances.insert(
        db,
        id=instance_id,
        name="mysql",
        engine="mysql",
        owner_id=owner_id,
        settings=stored,
        memory_mb=256,
        host="local",
        port=22998,
        username=creds.username,
        secrets=box.seal(creds.secrets()),
    )
    try:
        status, reply = await service.call("GET", f"/instances/{instance_id}", token)
        assert status == 200, reply
        assert reply["connection"]["database"] == "mysql"
        status, reply = await service.call("GET", "/instances", token)
        assert status == 200, reply
        assert [i["id"] for i in reply["items"]] == [instance_id]
    finally:
        await db.execute(
            "UPDATE instances SET status = 'failed', deleted_at = now() WHERE id = $1", instance_id
        )
