"""Rules: built-in ones seeded by the migration; admins edit, add, disable and delete
(built-ins cannot be deleted); every field is validated like the rest of the API."""

from __future__ import annotations

from tests.monitoring.conftest import Monitored

BUILTIN = {
    "InstanceDown",
    "InstanceRestarted",
    "ContainerOOMKilled",
    "RedisMemoryHigh",
    "MysqlConnectionsHigh",
    "ApiErrorRateHigh",
    "AuthFailureBurst",
    "ProvisioningFailing",
    "HostDataRootFilling",
    "InstanceDiskLarge",
    "BackupFailing",
}


async def test_builtin_rules_are_seeded(monitored: Monitored) -> None:
    status, body = await monitored.api.call("GET", "/rules", monitored.admin_token)
    assert status == 200
    rules = {r["name"]: r for r in body["items"]}
    assert set(rules) >= BUILTIN
    assert rules["InstanceDown"]["for"] == 10
    assert rules["InstanceDown"]["condition"] == "instance_down"
    assert rules["RedisMemoryHigh"]["threshold"] == 0.9
    assert rules["RedisMemoryHigh"]["for"] == 60
    assert rules["MysqlConnectionsHigh"]["threshold"] == 0.8
    assert rules["ApiErrorRateHigh"]["params"] == {"window": 300, "min_requests": 20}
    assert rules["AuthFailureBurst"]["threshold"] == 20
    assert rules["AuthFailureBurst"]["params"] == {"window": 60}
    assert rules["HostDataRootFilling"]["condition"] == "host_data_root_free_below"
    assert rules["HostDataRootFilling"]["threshold"] == 0.1
    assert rules["HostDataRootFilling"]["params"] == {"min_free_mb": 1024}
    assert rules["InstanceDiskLarge"]["params"] == {"metric": "disk_bytes"}
    assert all(rules[name]["builtin"] for name in BUILTIN)


async def test_rules_crud(monitored: Monitored) -> None:
    token = monitored.admin_token
    status, rule = await monitored.api.call(
        "POST",
        "/rules",
        token,
        json={
            "name": "RedisEvicting",
            "condition": "value_above",
            "threshold": 0,
            "params": {"metric": "redis_evicted_keys", "engine": "redis"},
            "for": "30s",
            "keep_firing_for": "5m",
            "severity": "info",
            "labels": {"team": "cache"},
        },
    )
    assert status == 201, rule
    assert rule["for"] == 30
    assert rule["keep_firing_for"] == 300
    assert rule["builtin"] is False
    status, _ = await monitored.api.call(
        "POST", "/rules", token, json={"name": "RedisEvicting", "condition": "instance_down"}
    )
    assert status == 409
    status, rule = await monitored.api.call(
        "PATCH", "/rules/RedisEvicting", token, json={"for": 5, "enabled": False}
    )
    assert status == 200, rule
    assert rule["for"] == 5
    assert rule["enabled"] is False
    assert rule["threshold"] == 0
    status, rule = await monitored.api.call("GET", "/rules/RedisEvicting", token)
    assert status == 200
    assert rule["labels"] == {"team": "cache"}
    status, _ = await monitored.api.call("DELETE", "/rules/RedisEvicting", token)
    assert status == 204
    status, _ = await monitored.api.call("GET", "/rules/RedisEvicting", token)
    assert status == 404
    status, body = await monitored.api.call("DELETE", "/rules/InstanceDown", token)
    assert status == 409, body


async def test_rule_validation(monitored: Monitored) -> None:
    token = monitored.admin_token
    cases = [
        ({"name": "X1", "condition": "eval('rm -rf /')"}, "condition"),
        (
            {"name": "X2", "condition": "ratio_above", "threshold": 2, "params": {"metric": "redis_memory"}},
            "threshold",
        ),
        ({"name": "X3", "condition": "ratio_above", "threshold": 0.5}, "params.metric"),
        (
            {"name": "X4", "condition": "ratio_above", "threshold": 0.5, "params": {"metric": "disk"}},
            "params.metric",
        ),
        ({"name": "X5", "condition": "instance_down", "threshold": 3}, "threshold"),
        ({"name": "X6", "condition": "instance_down", "for": "soon"}, "for"),
        ({"name": "X7", "condition": "instance_down", "labels": {"severity": "x"}}, "labels"),
        ({"name": "X8", "condition": "instance_down", "params": {"shell": "ls"}}, "params.shell"),
        ({"name": "bad name!", "condition": "instance_down"}, "name"),
        ({"name": "X9", "condition": "instance_down", "severity": "apocalyptic"}, "severity"),
    ]
    for body, field in cases:
        status, answer = await monitored.api.call("POST", "/rules", token, json=body)
        assert status == 422, (body, answer)
        fields = {d["field"] for d in answer["error"]["details"]}
        assert any(f == field or f.startswith(field + ".") for f in fields), (body, fields)
    status, answer = await monitored.api.call(
        "PATCH", "/rules/RedisMemoryHigh", token, json={"threshold": None}
    )
    assert status == 422, answer
    # Found by schemathesis: a null condition was a 500.
    status, answer = await monitored.api.call(
        "PATCH", "/rules/InstanceRestarted", token, json={"condition": None}
    )
    assert status == 422, answer
    assert answer["error"]["details"][0]["field"] == "condition"


async def test_rules_are_for_admins(monitored: Monitored) -> None:
    _, user = await monitored.user("nonadmin")
    for method, path, body in [
        ("GET", "/rules", None),
        ("POST", "/rules", {"name": "Mine", "condition": "instance_down"}),
        ("PATCH", "/rules/InstanceDown", {"for": 1}),
        ("DELETE", "/rules/InstanceDown", None),
    ]:
        status, _ = await monitored.api.call(method, path, user, json=body)
        assert status == 403, (method, path)
