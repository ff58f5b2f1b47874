"""The OpenAPI 3.1 document, generated from the router and the handlers' declared
contracts (service/web/contract.py), and Swagger UI, served from the swagger-ui-bundle
package so it works without internet. No shape is written here a second time."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from aiohttp import web
from pydantic import BaseModel
from swagger_ui_bundle import swagger_ui_path

from ..engines import ENGINES
from .contract import Contract, Error, contract, contract_of

routes = web.RouteTableDef()

API_PREFIX = "/api/v1"
DOCUMENT = web.AppKey("openapi_document", dict)

_STATUS_TEXT = {
    200: "OK",
    201: "Created",
    202: "Accepted",
    204: "No content",
    400: "Malformed request (not JSON, or a NUL byte)",
    401: "Missing or invalid token",
    403: "Not allowed (administrators only, or over quota)",
    404: "Not found (or not yours)",
    409: "Conflict with the current state",
    413: "Body too large",
    415: "Body is not JSON",
    422: "Invalid field (see details)",
    429: "Too many attempts",
    503: "Unavailable (no capacity)",
}


class UndocumentedRoute(RuntimeError):
    """A route without a contract: the document would be incomplete."""


class _Schemas:
    """components/schemas, filled from the models the contracts name."""

    def __init__(self) -> None:
        self.found: dict[str, Any] = {}

    def ref(self, model: type[BaseModel], mode: str) -> dict[str, str]:
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}", mode=mode)  # type: ignore[arg-type]
        for name, sub in schema.pop("$defs", {}).items():
            self._add(name, sub)
        self._add(model.__name__, schema)
        return {"$ref": f"#/components/schemas/{model.__name__}"}

    def _add(self, name: str, schema: dict[str, Any]) -> None:
        known = self.found.setdefault(name, schema)
        if known != schema:
            raise RuntimeError(f"two different schemas are named {name}")


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _parameters(declared: Contract, path: str, schemas: _Schemas) -> list[dict[str, Any]]:
    params: list[dict[str, Any]] = []
    names = [part[1:-1] for part in path.split("/") if part.startswith("{") and part.endswith("}")]
    for name in names:
        if name not in declared.path:
            raise UndocumentedRoute(f"{path}: path parameter {name!r} is not declared")
        params.append(
            {
                "name": name,
                "in": "path",
                "required": True,
                "schema": {"type": "string", "maxLength": 128},
                "description": declared.path[name],
            }
        )
    if declared.query is not None:
        model_schema = declared.query.model_json_schema(mode="validation")
        required = set(model_schema.get("required", []))
        for name, prop in model_schema.get("properties", {}).items():
            description = prop.pop("description", "")
            prop.pop("title", None)
            prop = _without_null(prop)
            params.append(
                {
                    "name": name,
                    "in": "query",
                    "required": name in required,
                    "schema": prop,
                    "description": description,
                }
            )
    return params


def _without_null(schema: dict[str, Any]) -> dict[str, Any]:
    """A query parameter is absent or a string: `X | None` is documented as X."""
    branches = schema.get("anyOf")
    if isinstance(branches, list):
        kept = [b for b in branches if b != {"type": "null"}]
        if len(kept) == 1:
            rest = {k: v for k, v in schema.items() if k != "anyOf" and not (k == "default" and v is None)}
            return {**kept[0], **rest}
    return schema


def _status_codes(declared: Contract, path: str) -> list[int]:
    codes = set(declared.errors)
    if not declared.public:
        codes.add(401)
    if declared.admin:
        codes.add(403)
    if declared.request is not None:
        codes.update((400, 413, 415, 422))
    if declared.query is not None:
        codes.add(422)
    if "{" in path:
        codes.add(404)
    return sorted(codes)


def _operation(declared: Contract, path: str, schemas: _Schemas) -> dict[str, Any]:
    responses: dict[str, Any] = {}
    for status, model in declared.responses.items():
        text = _STATUS_TEXT.get(status, "OK")
        if status in declared.raw:
            # One content type, or several separated by commas (a download of either kind).
            types = [part.strip() for part in declared.raw[status].split(",")]
            responses[str(status)] = {
                "description": text,
                "content": {content_type: {"schema": {"type": "string"}} for content_type in types},
            }
        elif model is None:
            responses[str(status)] = {"description": text}
        else:
            responses[str(status)] = _json(schemas.ref(model, "serialization"), text)
    error_ref = schemas.ref(Error, "serialization")
    for status in _status_codes(declared, path):
        responses[str(status)] = _json(error_ref, _STATUS_TEXT[status])
    operation: dict[str, Any] = {"summary": declared.summary, "responses": responses}
    if declared.description:
        operation["description"] = declared.description
    if declared.tags:
        operation["tags"] = list(declared.tags)
    if declared.public:
        operation["security"] = []
    params = _parameters(declared, path, schemas)
    if params:
        operation["parameters"] = params
    if declared.request is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": schemas.ref(declared.request, "validation")}},
        }
    return operation


def _documented_routes(router: web.UrlDispatcher) -> Iterable[tuple[str, str, Contract]]:
    for route in router.routes():
        if route.method == "HEAD" or isinstance(route.resource, web.StaticResource) or route.resource is None:
            continue
        path = route.resource.canonical
        if path == "/v2" or path.startswith("/v2/"):
            continue  # the service broker speaks the Open Service Broker API, documented by its spec
        declared = contract_of(route.handler)
        if declared is None:
            raise UndocumentedRoute(f"{route.method} {path} declares no contract")
        yield route.method.lower(), path, declared


def document(router: web.UrlDispatcher, extra_models: Iterable[type[BaseModel]] = ()) -> dict[str, Any]:
    """The whole document; raises UndocumentedRoute when a route declares nothing."""
    schemas = _Schemas()
    paths: dict[str, Any] = {}
    for method, path, declared in _documented_routes(router):
        inside = path.startswith(API_PREFIX + "/")
        key = path[len(API_PREFIX) :] if inside else path
        entry = paths.setdefault(key, {})
        if not inside:
            entry["servers"] = [{"url": "/"}]
        entry[method] = _operation(declared, path, schemas)
    for model in extra_models:
        schemas.ref(model, "validation")
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "dbvend",
            "version": "1.0.0",
            "description": "Real, connectable MySQL and Redis instances on request.",
        },
        "servers": [{"url": API_PREFIX}],
        "security": [{"bearer": []}],
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": dict(sorted(schemas.found.items())),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }


def install(app: web.Application) -> None:
    """Generate the document once, when every route is in the router."""
    settings_models = [engine.settings_model for engine in ENGINES.values()]
    app[DOCUMENT] = document(app.router, settings_models)


@routes.get("/api/v1/openapi.json")
@contract("This document", responses={200: None}, public=True, raw={200: "application/json"})
async def openapi_json(request: web.Request) -> web.Response:
    return web.json_response(request.app[DOCUMENT])


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
@contract("Swagger UI for this document", responses={200: None}, public=True, raw={200: "text/html"})
async def docs(_request: web.Request) -> web.Response:
    return web.Response(text=_DOCS_PAGE, content_type="text/html")


@routes.get("/api/docs/init.js")
@contract(
    "Swagger UI's start-up script", responses={200: None}, public=True, raw={200: "application/javascript"}
)
async def docs_init(_request: web.Request) -> web.Response:
    return web.Response(text=_DOCS_INIT, content_type="application/javascript")


routes.static("/api/docs/static", str(swagger_ui_path))
