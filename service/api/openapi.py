"""The OpenAPI 3.1 document (request schemas from the pydantic models) and Swagger UI,
served from the swagger-ui-bundle package so it works without internet."""

from __future__ import annotations

from functools import cache
from typing import Any

from aiohttp import web
from pydantic import BaseModel
from swagger_ui_bundle import swagger_ui_path

from ..engines.mysql import MysqlSettings
from ..engines.redis import RedisSettings
from .schemas import CreateInstanceRequest, CreateUserRequest, LoginRequest

routes = web.RouteTableDef()

_ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "request_id": {"type": "string"},
                "details": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
                    },
                },
            },
        }
    },
}


def _ref_health() -> dict[str, str]:
    return {"$ref": "#/components/schemas/Health"}


_INSTANCE = {
    "type": "object",
    "properties": {
        "id": {"type": "string", "examples": ["i-7f3k2q9x"]},
        "name": {"type": "string"},
        "engine": {"type": "string", "enum": ["mysql", "redis"]},
        "status": {"type": "string", "enum": ["provisioning", "running", "deleting", "failed", "stopped"]},
        "owner": {"type": "string"},
        "settings": {"type": "object"},
        "memory_mb": {"type": "integer"},
        "placement": {
            "type": "object",
            "properties": {
                "host": {"type": "string"},
                "address": {"type": "string"},
                "port": {"type": "integer"},
            },
        },
        "connection": {
            "type": "object",
            "properties": {
                "host": {"type": "string"},
                "port": {"type": "integer"},
                "database": {"type": "string"},
                "username": {"type": "string"},
                "password": {"type": "string"},
                "uri": {"type": "string"},
                "cli": {"type": "string"},
            },
        },
        "facts": {"type": "object"},
        "health": _ref_health(),
        "operation_id": {"type": "string"},
        "created_at": {"type": "string", "format": "date-time"},
        "updated_at": {"type": "string", "format": "date-time"},
        "error": {"type": ["string", "null"]},
    },
}
_OPERATION = {
    "type": "object",
    "properties": {
        "id": {"type": "string"},
        "kind": {"type": "string", "enum": ["create", "delete", "repair"]},
        "instance_id": {"type": "string"},
        "status": {"type": "string", "enum": ["pending", "running", "succeeded", "failed"]},
        "attempts": {"type": "integer"},
        "error": {"type": ["string", "null"]},
        "created_at": {"type": "string", "format": "date-time"},
        "started_at": {"type": ["string", "null"], "format": "date-time"},
        "finished_at": {"type": ["string", "null"], "format": "date-time"},
        "facts": {"type": ["object", "null"]},
    },
}
_USER = {
    "type": "object",
    "properties": {
        "username": {"type": "string"},
        "is_admin": {"type": "boolean"},
        "created_at": {"type": "string", "format": "date-time"},
    },
}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*codes: int) -> dict[str, Any]:
    text = {
        400: "Malformed request",
        401: "Missing or invalid token",
        403: "Administrators only",
        404: "Not found (or not yours)",
        409: "Conflict",
        422: "Invalid field (see details)",
        429: "Too many attempts",
        503: "No capacity",
    }
    return {str(c): _json(_ref("Error"), text[c]) for c in codes}


def _body(name: str) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": _ref(name)}}}


def _param(name: str, where: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": where,
        "required": where == "path",
        "schema": schema,
        "description": description,
    }


_WAIT = _param(
    "wait",
    "query",
    {"type": "integer", "minimum": 0, "maximum": 3600},
    "seconds to wait for the operation to finish",
)
_ID = _param("id", "path", {"type": "string"}, "instance id")


def _model_schemas(*models: type[BaseModel]) -> dict[str, Any]:
    schemas: dict[str, Any] = {}
    for model in models:
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(schema.pop("$defs", {}))
        schemas[model.__name__] = schema
    return schemas


@cache
def document() -> dict[str, Any]:
    paths: dict[str, Any] = {
        "/auth/login": {
            "post": {
                "summary": "Exchange username and password for a bearer token",
                "security": [],
                "requestBody": _body("LoginRequest"),
                "responses": {
                    "200": _json(
                        {
                            "type": "object",
                            "properties": {
                                "token": {"type": "string"},
                                "token_type": {"type": "string"},
                                "expires_at": {"type": "string", "format": "date-time"},
                            },
                        },
                        "A token",
                    ),
                    **_errors(400, 401, 422, 429),
                },
            }
        },
        "/auth/logout": {
            "post": {
                "summary": "Revoke the token used",
                "responses": {"204": {"description": "Revoked"}, **_errors(401)},
            }
        },
        "/me": {
            "get": {
                "summary": "Who the token belongs to",
                "responses": {"200": _json(_ref("User"), "The user"), **_errors(401)},
            }
        },
        "/users": {
            "post": {
                "summary": "Create a user (admin)",
                "requestBody": _body("CreateUserRequest"),
                "responses": {"201": _json(_ref("User"), "Created"), **_errors(401, 403, 409, 422)},
            },
            "get": {
                "summary": "List users (admin)",
                "responses": {
                    "200": _json(
                        {"type": "object", "properties": {"items": {"type": "array", "items": _ref("User")}}},
                        "Users",
                    ),
                    **_errors(401, 403),
                },
            },
        },
        "/instances": {
            "post": {
                "summary": "Ask for a MySQL or Redis instance",
                "description": "Validated and recorded at once; a worker deploys it. settings follow "
                "MysqlSettings or RedisSettings by engine; unknown keys are rejected.",
                "parameters": [_WAIT],
                "requestBody": _body("CreateInstanceRequest"),
                "responses": {
                    "201": _json(_ref("Instance"), "Running (with ?wait)"),
                    "202": _json(_ref("Instance"), "Accepted, provisioning"),
                    **_errors(400, 401, 409, 422, 503),
                },
            },
            "get": {
                "summary": "Your instances, newest first",
                "parameters": [
                    _param("engine", "query", {"type": "string", "enum": ["mysql", "redis"]}, "filter"),
                    _param("status", "query", {"type": "string"}, "filter"),
                    _param("limit", "query", {"type": "integer", "minimum": 1, "maximum": 200}, "page size"),
                    _param("cursor", "query", {"type": "string"}, "next_cursor of the previous page"),
                ],
                "responses": {
                    "200": _json(
                        {
                            "type": "object",
                            "properties": {
                                "items": {"type": "array", "items": _ref("Instance")},
                                "next_cursor": {"type": ["string", "null"]},
                            },
                        },
                        "A page",
                    ),
                    **_errors(401, 422),
                },
            },
        },
        "/instances/{id}": {
            "get": {
                "summary": "One instance with its connection details",
                "parameters": [_ID],
                "responses": {"200": _json(_ref("Instance"), "The instance"), **_errors(401, 404)},
            },
            "delete": {
                "summary": "Remove the container, its data and its port",
                "parameters": [_ID, _WAIT],
                "responses": {
                    "204": {"description": "Deleted (with ?wait)"},
                    "202": _json(_ref("Operation"), "Deleting"),
                    **_errors(401, 404, 422),
                },
            },
        },
        "/operations/{id}": {
            "get": {
                "summary": "How a create or delete went",
                "parameters": [_param("id", "path", {"type": "string"}, "operation id")],
                "responses": {"200": _json(_ref("Operation"), "The operation"), **_errors(401, 404)},
            }
        },
    }
    schemas = _model_schemas(
        LoginRequest, CreateUserRequest, CreateInstanceRequest, MysqlSettings, RedisSettings
    )
    schemas.update({"Error": _ERROR, "Instance": _INSTANCE, "Operation": _OPERATION, "User": _USER})
    from . import openapi_monitoring  # imports this module's helpers

    paths.update(openapi_monitoring.paths())
    schemas.update(openapi_monitoring.schemas())
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "dbvend",
            "version": "1.0.0",
            "description": "Real, connectable MySQL and Redis instances on request.",
        },
        "servers": [{"url": "/api/v1"}],
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }


@routes.get("/api/v1/openapi.json")
async def openapi_json(_request: web.Request) -> web.Response:
    return web.json_response(document())


_DOCS_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>dbvend API</title>
<link rel="stylesheet" href="/api/docs/static/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<script src="/api/docs/static/swagger-ui-bundle.js"></script>
<script src="/api/docs/static/swagger-ui-standalone-preset.js"></script>
<script src="/api/docs/init.js"></script></body></html>"""
_DOCS_INIT = """window.onload = function () {
  window.ui = SwaggerUIBundle({url: "/api/v1/openapi.json", dom_id: "#swagger-ui",
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset], layout: "StandaloneLayout"});
};"""


@routes.get("/api/docs")
async def docs(_request: web.Request) -> web.Response:
    return web.Response(text=_DOCS_PAGE, content_type="text/html")


@routes.get("/api/docs/init.js")
async def docs_init(_request: web.Request) -> web.Response:
    return web.Response(text=_DOCS_INIT, content_type="application/javascript")


routes.static("/api/docs/static", str(swagger_ui_path))
