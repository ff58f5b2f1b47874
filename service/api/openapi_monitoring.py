"""The monitoring part of the OpenAPI document: alerts, events, rules, webhooks, instance
metrics, and /metrics (which sits outside /api/v1)."""

from __future__ import annotations

from typing import Any

from .monitoring_schemas import AckRequest, CreateRuleRequest, CreateWebhookRequest, UpdateRuleRequest
from .openapi import _body, _errors, _json, _model_schemas, _param, _ref

_TIME = {"type": ["string", "null"], "format": "date-time"}
_LABELS = {"type": "object", "additionalProperties": {"type": "string"}}

SCHEMAS: dict[str, Any] = {
    "Alert": {
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "rule": {"type": "string"},
            "status": {"type": "string", "enum": ["pending", "firing", "acknowledged", "resolved"]},
            "severity": {"type": "string", "enum": ["info", "warning", "critical"]},
            "labels": _LABELS,
            "annotations": _LABELS,
            "fingerprint": {"type": "string"},
            "instance_id": {"type": ["string", "null"]},
            "value": {"type": ["number", "null"]},
            "pending_since": _TIME,
            "starts_at": _TIME,
            "ends_at": _TIME,
            "acknowledged_by": {"type": ["string", "null"]},
            "acknowledged_at": _TIME,
            "comment": {"type": ["string", "null"]},
            "history": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "at": _TIME,
                        "status": {"type": "string"},
                        "actor": {"type": ["string", "null"]},
                        "comment": {"type": ["string", "null"]},
                    },
                },
            },
        },
    },
    "Rule": {
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "name": {"type": "string"},
            "condition": {"type": "string"},
            "threshold": {"type": ["number", "null"]},
            "params": {"type": "object"},
            "for": {"type": "integer", "description": "seconds"},
            "keep_firing_for": {"type": "integer", "description": "seconds"},
            "severity": {"type": "string"},
            "labels": _LABELS,
            "description": {"type": "string"},
            "enabled": {"type": "boolean"},
            "builtin": {"type": "boolean"},
        },
    },
    "Event": {
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "at": _TIME,
            "kind": {
                "type": "string",
                "examples": [
                    "server_error",
                    "auth_failure",
                    "slow_request",
                    "validation_rejected",
                    "provisioning_failed",
                    "container_missing",
                    "repair_queued",
                    "instance_repaired",
                ],
            },
            "severity": {"type": "string"},
            "source": {"type": "string", "enum": ["gateway", "collector", "worker", "alerts"]},
            "instance_id": {"type": ["string", "null"]},
            "subject": {"type": ["string", "null"]},
            "message": {"type": "string"},
            "details": {"type": "object"},
        },
    },
    "Webhook": {
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "url": {"type": "string"},
            "send_resolved": {"type": "boolean"},
            "owner": {"type": "string"},
            "scope": {"type": "string"},
            "deliveries": {"type": "array", "items": {"type": "object"}},
        },
    },
    "Sample": {
        "type": "object",
        "properties": {
            "at": _TIME,
            "up": {"type": "boolean"},
            "container": {"type": "object"},
            "engine": {"type": "object"},
            "error": {"type": ["string", "null"]},
        },
    },
    "Health": {
        "type": "object",
        "description": "latest monitoring sample and open alerts (instance detail only)",
        "properties": {
            "state": {"type": "string", "enum": ["up", "down", "unknown"]},
            "checked_at": _TIME,
            "container": {"type": ["object", "null"]},
            "engine": {"type": ["object", "null"]},
            "error": {"type": ["string", "null"]},
            "open_alerts": {"type": "array", "items": {"type": "object"}},
        },
    },
}


def _items(name: str) -> dict[str, Any]:
    return {"type": "object", "properties": {"items": {"type": "array", "items": _ref(name)}}}


def _id(what: str, kind: str = "integer") -> dict[str, Any]:
    return _param("id" if what != "rule" else "name", "path", {"type": kind}, f"{what} id")


def paths() -> dict[str, Any]:
    rule_name = _param("name", "path", {"type": "string"}, "rule name")
    return {
        "/alerts": {
            "get": {
                "summary": "Alerts (yours: of your instances; admins: all)",
                "parameters": [
                    _param("instance_id", "query", {"type": "string"}, "filter"),
                    _param(
                        "status",
                        "query",
                        {"type": "string", "enum": ["pending", "firing", "acknowledged", "resolved"]},
                        "filter",
                    ),
                    _param("rule", "query", {"type": "string"}, "filter"),
                    _param("limit", "query", {"type": "integer", "minimum": 1, "maximum": 500}, "page size"),
                ],
                "responses": {"200": _json(_items("Alert"), "Newest first"), **_errors(401, 422)},
            }
        },
        "/alerts/{id}": {
            "get": {
                "summary": "One alert with its history",
                "parameters": [_id("alert")],
                "responses": {"200": _json(_ref("Alert"), "The alert"), **_errors(401, 404)},
            }
        },
        "/alerts/{id}/ack": {
            "post": {
                "summary": "Acknowledge a firing alert (records who, when, the comment)",
                "parameters": [_id("alert")],
                "requestBody": _body("AckRequest"),
                "responses": {"200": _json(_ref("Alert"), "Acknowledged"), **_errors(401, 404, 409, 422)},
            }
        },
        "/events": {
            "get": {
                "summary": "Events (yours: of your instances; admins: all), newest first",
                "parameters": [
                    _param("kind", "query", {"type": "string"}, "filter"),
                    _param("instance_id", "query", {"type": "string"}, "filter"),
                    _param("before", "query", {"type": "integer"}, "next_before of the previous page"),
                    _param("limit", "query", {"type": "integer", "minimum": 1, "maximum": 1000}, "page size"),
                ],
                "responses": {"200": _json(_items("Event"), "A page"), **_errors(401, 422)},
            }
        },
        "/instances/{id}/metrics": {
            "get": {
                "summary": "Recent monitoring samples of one of your instances",
                "parameters": [
                    _param("id", "path", {"type": "string"}, "instance id"),
                    _param("since", "query", {"type": "integer"}, "seconds back (default 3600)"),
                    _param("limit", "query", {"type": "integer", "maximum": 5000}, "at most (default 240)"),
                ],
                "responses": {"200": _json(_items("Sample"), "Newest first"), **_errors(401, 404, 422)},
            }
        },
        "/rules": {
            "get": {
                "summary": "Alert rules (admin)",
                "responses": {"200": _json(_items("Rule"), "Rules"), **_errors(401, 403)},
            },
            "post": {
                "summary": "Add a rule (admin): a condition from the fixed set, its threshold and params",
                "requestBody": _body("CreateRuleRequest"),
                "responses": {"201": _json(_ref("Rule"), "Created"), **_errors(401, 403, 409, 422)},
            },
        },
        "/rules/{name}": {
            "get": {
                "summary": "One rule (admin)",
                "parameters": [rule_name],
                "responses": {"200": _json(_ref("Rule"), "The rule"), **_errors(401, 403, 404)},
            },
            "patch": {
                "summary": "Change a rule (admin); only the fields sent change",
                "parameters": [rule_name],
                "requestBody": _body("UpdateRuleRequest"),
                "responses": {"200": _json(_ref("Rule"), "Changed"), **_errors(401, 403, 404, 422)},
            },
            "delete": {
                "summary": "Delete a rule (admin); built-in rules can only be disabled",
                "parameters": [rule_name],
                "responses": {"204": {"description": "Deleted"}, **_errors(401, 403, 404, 409)},
            },
        },
        "/webhooks": {
            "get": {
                "summary": "Your webhooks",
                "responses": {"200": _json(_items("Webhook"), "Webhooks"), **_errors(401)},
            },
            "post": {
                "summary": "Receive alerts as Alertmanager webhook (v4) payloads: an admin's webhook "
                "gets every alert, a user's the alerts of the user's instances",
                "requestBody": _body("CreateWebhookRequest"),
                "responses": {"201": _json(_ref("Webhook"), "Created"), **_errors(401, 422)},
            },
        },
        "/webhooks/{id}": {
            "get": {
                "summary": "One of your webhooks with its recent deliveries",
                "parameters": [_id("webhook")],
                "responses": {"200": _json(_ref("Webhook"), "The webhook"), **_errors(401, 404)},
            },
            "delete": {
                "summary": "Remove one of your webhooks",
                "parameters": [_id("webhook")],
                "responses": {"204": {"description": "Removed"}, **_errors(401, 404)},
            },
        },
        "/metrics": {
            "servers": [{"url": "/"}],
            "get": {
                "summary": "Prometheus metrics (text format 0.0.4), outside /api/v1",
                "description": "No token needed: expose it only where the scraper reaches it. HTTP "
                "request counters and latency histograms by route template, instances by "
                "engine/status/host, operations by kind/status, per-instance up/memory/CPU/"
                "connection gauges, firing alerts, collection round timings.",
                "security": [],
                "responses": {"200": {"description": "Metrics", "content": {"text/plain": {}}}},
            },
        },
    }


def schemas() -> dict[str, Any]:
    found = _model_schemas(CreateRuleRequest, UpdateRuleRequest, AckRequest, CreateWebhookRequest)
    found.update(SCHEMAS)
    return found
