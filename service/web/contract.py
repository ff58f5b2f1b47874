"""What each handler promises: its request model, its response models by status and the
error statuses it can answer. The OpenAPI document is generated from these declarations
and the router, and responses are built through `respond()` from the same models, so a
shape is declared once."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..engines.base import pydantic_errors
from ..errors import Invalid

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
H = TypeVar("H", bound=Handler)

ATTRIBUTE = "__dbvend_contract__"


@dataclass(frozen=True)
class Contract:
    summary: str
    # status -> body model; None means the status carries no body (204)
    responses: Mapping[int, type[BaseModel] | None]
    errors: tuple[int, ...] = ()
    request: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    path: Mapping[str, str] = field(default_factory=dict)  # path parameter -> description
    description: str = ""
    public: bool = False  # no bearer token needed
    admin: bool = False
    tags: tuple[str, ...] = ()
    # a body that is not JSON (Prometheus text, a file): status -> its content type, or
    # several separated by commas
    raw: Mapping[int, str] = field(default_factory=dict)


def contract(
    summary: str,
    *,
    responses: Mapping[int, type[BaseModel] | None],
    errors: tuple[int, ...] = (),
    request: type[BaseModel] | None = None,
    query: type[BaseModel] | None = None,
    path: Mapping[str, str] | None = None,
    description: str = "",
    public: bool = False,
    admin: bool = False,
    tags: tuple[str, ...] = (),
    raw: Mapping[int, str] | None = None,
) -> Callable[[H], H]:
    """Attach the contract to a handler; the router keeps the handler, the generator reads it."""
    declared = Contract(
        summary=summary,
        responses=responses,
        errors=errors,
        request=request,
        query=query,
        path=path or {},
        description=description,
        public=public,
        admin=admin,
        tags=tags,
        raw=raw or {},
    )

    def attach(handler: H) -> H:
        setattr(handler, ATTRIBUTE, declared)
        return handler

    return attach


def contract_of(handler: object) -> Contract | None:
    found = getattr(handler, ATTRIBUTE, None)
    return found if isinstance(found, Contract) else None


class Out(BaseModel):
    """A response body: exactly the declared fields, so a drifting response fails loudly."""

    model_config = ConfigDict(extra="forbid")


class ErrorDetail(Out):
    field: str
    message: str


class ErrorBody(Out):
    code: str = Field(examples=["validation_error"])
    message: str
    request_id: str
    details: list[ErrorDetail] | None = None


class Error(Out):
    # Every error answer of /api/v1 (service/web/errors.py). No docstring: it would become
    # the schema's description.
    error: ErrorBody


M = TypeVar("M", bound=BaseModel)


def respond(
    model: type[M],
    data: M | Mapping[str, Any],
    *,
    status: int = 200,
    headers: Mapping[str, str] | None = None,
) -> web.Response:
    """The JSON response, built by validating `data` against the declared response model."""
    body = data if isinstance(data, model) else model.model_validate(data)
    return web.Response(
        text=body.model_dump_json(),
        status=status,
        content_type="application/json",
        headers=headers,
    )


def response_body(response: web.Response) -> bytes:
    """What `respond` put in the response (bytes: it was given text)."""
    body = response.body
    assert isinstance(body, bytes)
    return body


def cached_json(body: bytes) -> web.Response:
    """A body `respond` made earlier (service/instances/view_cache.py), answered as it did."""
    return web.Response(body=body, content_type="application/json", charset="utf-8")


Q = TypeVar("Q", bound=BaseModel)


def read_query(request: web.Request, model: type[Q]) -> Q:
    """The query string through its declared model; an empty value counts as absent."""
    raw: dict[str, str] = {}
    for name, info in model.model_fields.items():
        key = info.alias or name
        value = request.query.get(key)
        if value:
            raw[key] = value
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise Invalid(pydantic_errors(exc, "")) from None
