"""What a change costs, said by the API before and after: every property of the settings
schemas (OpenAPI) and of each plan's parameters_schema carries x-restart-required (and
x-restart-when where only some changes restart), GET /plans a restart_required map; a PATCH
answers restart_required, and it is true exactly when the server restarted (MariaDB: binary
logging switched on), false for a live change (the container is not restarted)."""

from __future__ import annotations

from typing import Any

import docker
import pymysql
import pytest

from service.engines import ENGINES
from service.engines.base import Restart
from tests.conftest import UserFactory
from tests.helpers import Api, wait_until


async def test_every_setting_in_the_schemas_says_whether_it_restarts(service: Api) -> None:
    status, doc = await service.call("GET", "/openapi.json")
    assert status == 200
    for engine in ENGINES.values():
        schema = doc["components"]["schemas"][engine.settings_model.__name__]
        assert set(schema["properties"]) == set(engine.settings_model.model_fields)
        for name, prop in schema["properties"].items():
            rule = engine.restart_rule(name)
            assert prop["x-restart-required"] is (rule is not Restart.NEVER), (engine.name, name)
            toggles = (Restart.NULL_TOGGLED, Restart.OFF_TOGGLED)
            assert prop.get("x-restart-when") == (rule.value if rule in toggles else None)
    mysql = doc["components"]["schemas"]["MysqlSettings"]["properties"]
    assert mysql["binlog_format"]["x-restart-required"] is True
    assert mysql["binlog_format"]["x-restart-when"] == "null_toggled"
    assert mysql["tls"]["x-restart-when"] == "off_toggled"
    assert mysql["memory_mb"]["x-restart-required"] is False
    assert mysql["memory_mb"]["x-unit"] == "MiB"
    assert mysql["database"]["x-create-only"] is True
    redis = doc["components"]["schemas"]["RedisSettings"]["properties"]
    assert redis["maxmemory"]["x-unit"] == "bytes"
    assert not any(p["x-restart-required"] for p in redis.values())
    patch = doc["paths"]["/instances/{id}"]["patch"]["responses"]
    for status_code in ("200", "202"):
        ref = patch[status_code]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
        assert doc["components"]["schemas"][ref]["properties"]["restart_required"]["type"] == "boolean"


async def test_plans_say_what_a_change_of_each_setting_costs(service: Api, admin_token: str) -> None:
    status, body = await service.call("GET", "/plans", admin_token)
    assert status == 200, body
    for plan in body["items"]:
        engine = ENGINES[plan["engine"]]
        assert set(plan["restart_required"]) == set(engine.settings_model.model_fields)
        for name, restarts in plan["restart_required"].items():
            assert restarts is (engine.restart_rule(name) is not Restart.NEVER)
        for name, prop in plan["parameters_schema"]["properties"].items():
            assert prop["x-restart-required"] is plan["restart_required"][name]
    mysql_small = next(p for p in body["items"] if (p["engine"], p["name"]) == ("mysql", "small"))
    assert mysql_small["restart_required"]["binlog_format"] is True
    assert mysql_small["parameters_schema"]["properties"]["binlog_format"]["x-restart-when"] == "null_toggled"


@pytest.fixture(scope="module")
async def mysql_instance(service: Api, make_user: UserFactory) -> tuple[str, dict[str, Any]]:
    _, token = await make_user("restart")
    status, inst = await service.call("POST", "/instances?wait=300", token, json={"engine": "mysql"})
    assert status == 201, inst
    return token, inst


def _variable(conn: dict[str, Any], name: str) -> str:
    with (
        pymysql.connect(
            host=conn["host"],
            port=int(conn["port"]),
            user=conn["username"],
            password=conn["password"],
            database=conn["database"],
            connect_timeout=10,
        ) as c,
        c.cursor() as cur,
    ):
        cur.execute("SHOW GLOBAL VARIABLES LIKE %s", (name,))
        row = cur.fetchone()
        return str(row[1]) if row else ""


async def test_a_patch_answers_whether_it_restarts_the_server(
    service: Api, mysql_instance: tuple[str, dict[str, Any]], docker_client: docker.DockerClient
) -> None:
    token, inst = mysql_instance
    container = docker_client.containers.get(inst["facts"]["container_id"])
    started = container.attrs["State"]["StartedAt"]
    # A live change: answered false, and the server is not restarted.
    status, reply = await service.call(
        "PATCH", f"/instances/{inst['id']}?wait=240", token, json={"settings": {"max_connections": 42}}
    )
    assert status == 200, reply
    assert reply["restart_required"] is False
    assert reply["changes"] == {"live": ["max_connections"], "restart": [], "convert": False}
    container.reload()
    assert container.attrs["State"]["StartedAt"] == started
    assert _variable(inst["connection"], "max_connections") == "42"
    # Binary logging switched on: log_bin is read at start only; answered true, and it restarted.
    status, reply = await service.call(
        "PATCH", f"/instances/{inst['id']}", token, json={"settings": {"binlog_format": "ROW"}}
    )
    assert status == 202, reply
    assert reply["restart_required"] is True
    assert reply["changes"]["restart"] == ["binlog_format"]
    op = await _finished(service, token, reply["id"])
    assert op["status"] == "succeeded", op
    container.reload()
    assert container.attrs["State"]["StartedAt"] != started
    assert _variable(inst["connection"], "log_bin") == "ON"
    # The format alone, with logging on: live again.
    status, reply = await service.call(
        "PATCH", f"/instances/{inst['id']}?wait=240", token, json={"settings": {"binlog_format": "MIXED"}}
    )
    assert status == 200, reply
    assert reply["restart_required"] is False
    # A backup schedule alone changes no setting.
    status, reply = await service.call(
        "PATCH", f"/instances/{inst['id']}", token, json={"backup_policy": {"interval_hours": 24, "keep": 2}}
    )
    assert status == 200, reply
    assert reply["restart_required"] is False


async def _finished(service: Api, token: str, operation_id: str) -> dict[str, Any]:
    found: dict[str, Any] = {}

    async def done() -> bool:
        _, op = await service.call("GET", f"/operations/{operation_id}", token)
        found.update(op)
        return op["status"] in ("succeeded", "failed")

    assert await wait_until(done, 240)
    return found
