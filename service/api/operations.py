"""/api/v1/operations/{id}: how a create or delete went."""

from __future__ import annotations

from aiohttp import web

from ..db import operations
from ..errors import NotFound
from .auth import current_user, owner_filter
from .context import services
from .contract import contract, respond
from .models import Operation
from .views import operation_view

routes = web.RouteTableDef()


@routes.get("/api/v1/operations/{id}")
@contract("How an operation on an instance went", path={"id": "operation id"}, responses={200: Operation})
async def get_operation(request: web.Request) -> web.Response:
    op = await operations.get(
        services(request).pool, request.match_info["id"], owner_id=owner_filter(current_user(request))
    )
    if op is None:
        raise NotFound("operation")
    return respond(Operation, operation_view(op))
