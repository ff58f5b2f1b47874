from __future__ import annotations

from typing import Any

import pytest
from aiohttp import web

from service.accounts.schemas import User
from service.web.contract import contract
from service.web.openapi import UndocumentedRoute, document
from tests.helpers import Api


async def test_openapi_document_describes_every_route(service: Api) -> None:
    status, doc = await service.call("GET", "/openapi.json")
    assert status == 200
    assert doc["openapi"].startswith("3.")
    paths = doc["paths"]
    app = service.client.server.app
    assert app is not None
    for route in app.router.routes():
        if route.method == "HEAD" or isinstance(route.resource, web.StaticResource) or route.resource is None:
            continue
        path = route.resource.canonical
        if path.startswith("/v2/"):
            assert path not in paths  # the service broker is the OSB spec's API, not in this document
            continue
        key = path.removeprefix("/api/v1") if path.startswith("/api/v1/") else path
        assert route.method.lower() in paths[key], (route.method, path)
    for path, method in [
        ("/hosts", "get"),
        ("/hosts/{name}/drain", "post"),
        ("/hosts/reload", "post"),
        ("/plans", "get"),
        ("/plans/{engine}/{name}", "patch"),
    ]:
        assert method in paths[path], (path, method)
    schemas = doc["components"]["schemas"]
    assert "charset" in schemas["MysqlSettings"]["properties"]
    assert "maxmemory_policy" in schemas["RedisSettings"]["properties"]
    assert schemas["CreateInstanceRequest"]["additionalProperties"] is False
    assert schemas["Instance"]["additionalProperties"] is False
    assert {"reachable", "memory_mb", "placement", "plan"} <= set(schemas["Instance"]["properties"])
    assert "plan" in schemas["CreateInstanceRequest"]["properties"]


def test_a_route_without_a_contract_fails_the_document() -> None:
    app = web.Application()

    async def documented(_request: web.Request) -> web.Response:
        return web.Response()

    async def forgotten(_request: web.Request) -> web.Response:
        return web.Response()

    app.router.add_get("/api/v1/me", contract("Who", responses={200: User})(documented))
    app.router.add_get("/api/v1/secret", forgotten)
    with pytest.raises(UndocumentedRoute, match="/api/v1/secret"):
        document(app.router)


def test_an_undeclared_path_parameter_fails_the_document() -> None:
    app = web.Application()

    async def handler(_request: web.Request) -> web.Response:
        return web.Response()

    app.router.add_get("/api/v1/things/{id}", contract("Thing", responses={200: User})(handler))
    with pytest.raises(UndocumentedRoute, match="'id'"):
        document(app.router)


def _resolve(doc: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = doc["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


async def test_real_responses_carry_every_documented_field(service: Api, admin_token: str) -> None:
    """Each documented property is required and present in what the route really sends."""
    _, doc = await service.call("GET", "/openapi.json")
    checks = [("/me", "get"), ("/users", "get"), ("/hosts", "get"), ("/rules", "get"), ("/instances", "get")]
    for path, method in checks:
        status, body = await service.call(method.upper(), path, admin_token)
        assert status == 200, (path, body)
        schema = _resolve(
            doc, doc["paths"][path][method]["responses"]["200"]["content"]["application/json"]["schema"]
        )
        assert set(schema["properties"]) == set(body), path
        assert set(schema.get("required", [])) == set(schema["properties"]), path
        if body.get("items"):
            item_schema = _resolve(doc, schema["properties"]["items"]["items"])
            assert set(item_schema["properties"]) == set(body["items"][0]), path


async def test_swagger_ui_is_served_offline(service: Api) -> None:
    async with service.client.get("/api/docs") as resp:
        assert resp.status == 200
        page = await resp.text()
    assert "/api/v1/openapi.json" in (await (await service.client.get("/api/docs/init.js")).text())
    async with service.client.get("/api/docs/static/swagger-ui-bundle.js") as resp:
        assert resp.status == 200
        assert len(await resp.read()) > 100_000
    assert "swagger-ui" in page
