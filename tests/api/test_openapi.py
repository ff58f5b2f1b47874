from __future__ import annotations

from tests.helpers import Api


async def test_openapi_document_describes_every_route(service: Api) -> None:
    status, doc = await service.call("GET", "/openapi.json")
    assert status == 200
    assert doc["openapi"].startswith("3.")
    paths = doc["paths"]
    for path, method in [
        ("/auth/login", "post"),
        ("/auth/logout", "post"),
        ("/me", "get"),
        ("/users", "post"),
        ("/instances", "post"),
        ("/instances", "get"),
        ("/instances/{id}", "get"),
        ("/instances/{id}", "delete"),
        ("/operations/{id}", "get"),
    ]:
        assert method in paths[path], (path, method)
    schemas = doc["components"]["schemas"]
    assert "charset" in schemas["MysqlSettings"]["properties"]
    assert "maxmemory_policy" in schemas["RedisSettings"]["properties"]
    assert schemas["CreateInstanceRequest"]["additionalProperties"] is False


async def test_swagger_ui_is_served_offline(service: Api) -> None:
    async with service.client.get("/api/docs") as resp:
        assert resp.status == 200
        page = await resp.text()
    assert "/api/v1/openapi.json" in (await (await service.client.get("/api/docs/init.js")).text())
    async with service.client.get("/api/docs/static/swagger-ui-bundle.js") as resp:
        assert resp.status == 200
        assert len(await resp.read()) > 100_000
    assert "swagger-ui" in page
