from __future__ import annotations

from tests.monitoring.conftest import Monitored


async def test_openapi_describes_the_monitoring_routes(monitored: Monitored) -> None:
    status, doc = await monitored.api.call("GET", "/openapi.json")
    assert status == 200
    paths = doc["paths"]
    for path, method in [
        ("/alerts", "get"),
        ("/alerts/{id}", "get"),
        ("/alerts/{id}/ack", "post"),
        ("/events", "get"),
        ("/instances/{id}/metrics", "get"),
        ("/rules", "get"),
        ("/rules", "post"),
        ("/rules/{name}", "patch"),
        ("/rules/{name}", "delete"),
        ("/webhooks", "post"),
        ("/webhooks", "get"),
        ("/webhooks/{id}", "delete"),
        ("/metrics", "get"),
    ]:
        assert method in paths[path], (path, method)
    assert paths["/metrics"]["servers"] == [{"url": "/"}]
    assert paths["/metrics"]["get"]["security"] == []
    schemas = doc["components"]["schemas"]
    assert "for" in schemas["CreateRuleRequest"]["properties"]
    assert schemas["CreateWebhookRequest"]["additionalProperties"] is False
    assert schemas["InstanceDetail"]["properties"]["health"] == {"$ref": "#/components/schemas/Health"}
    assert doc["paths"]["/instances/{id}"]["get"]["responses"]["200"]["content"]["application/json"][
        "schema"
    ] == {"$ref": "#/components/schemas/InstanceDetail"}
