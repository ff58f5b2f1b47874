"""/api/v1/instances/{id}/credentials: an instance's extra credentials, each one more
database user, made (bind) and removed (unbind) one by one without touching the
application account (CredentialService, which the service broker calls too).
Owner-filtered: another user's instance is 404."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ..errors import NotFound
from ..web.body import read_json
from ..web.contract import contract, respond
from ..web.identity import current_user, owner_filter
from ..web.operations import Operation, removal_answer, wait_seconds
from ..web.queries import WaitQuery
from ..web.schemas import parse
from .schemas import CreateCredentialRequest, CredentialDetail, CredentialList
from .schemas import Credential as CredentialOut
from .service import Credential, CredentialService

SERVICE = web.AppKey("credentials", CredentialService)
routes = web.RouteTableDef()

_PATH = {"id": "instance id"}
_ONE = {"id": "instance id", "name": "the credential's name"}


def credential_view(cred: Credential) -> dict[str, Any]:
    return {
        "id": cred.id,
        "instance_id": cred.instance_id,
        "name": cred.name,
        "username": cred.username,
        "status": cred.status,
        "operation_id": cred.operation_id,
        "created_at": cred.created_at.isoformat(),
        "error": cred.error,
    }


def credentials(request: web.Request) -> CredentialService:
    return request.app[SERVICE]


async def _detail(svc: CredentialService, cred: Credential, owner_id: int | None) -> dict[str, Any]:
    found = await svc.connection(cred.instance_id, cred.name, owner_id=owner_id)
    connection = {**found, "database": found.get("database")} if found is not None else None
    return {**credential_view(cred), "connection": connection}


def _location(cred: Credential) -> dict[str, str]:
    return {
        "Location": f"/api/v1/instances/{cred.instance_id}/credentials/{cred.name}",
        "Operation-Location": f"/api/v1/operations/{cred.operation_id}",
    }


@routes.post("/api/v1/instances/{id}/credentials")
@contract(
    "Make an extra credential: one more database user with the application account's rights",
    description="MySQL: a user with ALL on the instance's database only; Redis: an ACL user with the"
    " application account's rule. 202 with the credential (`creating`); with ?wait=N, 201 once it is"
    " active, its password in `connection`. The same name again answers the one there is (200) and"
    " records nothing. 409 when the instance is not running, when it has 20 credentials already, or"
    " when the name belongs to one being deleted; 422 for a bad name (field `name`).",
    path=_PATH,
    query=WaitQuery,
    request=CreateCredentialRequest,
    responses={200: CredentialDetail, 201: CredentialDetail, 202: CredentialDetail},
    errors=(409,),
)
async def create_credential(request: web.Request) -> web.Response:
    svc = credentials(request)
    user = current_user(request)
    wait = wait_seconds(request, svc.ctx.settings.max_wait_seconds)
    body = parse(CreateCredentialRequest, await read_json(request))
    owner_id = owner_filter(user)
    cred, created = await svc.request(user, request.match_info["id"], body.name, owner_id=owner_id)
    if wait and cred.status == "creating":
        await svc.wait(cred.operation_id, wait)
        cred = await svc.get(cred.instance_id, cred.name, owner_id=owner_id) or cred
    status = 200 if not created else 201 if cred.status == "active" else 202
    return respond(
        CredentialDetail, await _detail(svc, cred, owner_id), status=status, headers=_location(cred)
    )


@routes.get("/api/v1/instances/{id}/credentials")
@contract(
    "The instance's extra credentials (no passwords)",
    description="Oldest first; removed ones are not listed. Another user's instance is 404.",
    path=_PATH,
    responses={200: CredentialList},
)
async def list_credentials(request: web.Request) -> web.Response:
    user = current_user(request)
    found = await credentials(request).of_instance(request.match_info["id"], owner_id=owner_filter(user))
    if found is None:
        raise NotFound("instance")
    return respond(
        CredentialList, {"items": [CredentialOut.model_validate(credential_view(c)) for c in found]}
    )


@routes.get("/api/v1/instances/{id}/credentials/{name}")
@contract(
    "One extra credential; `connection` (with the password) once it is active",
    path=_ONE,
    responses={200: CredentialDetail},
)
async def get_credential(request: web.Request) -> web.Response:
    svc = credentials(request)
    owner_id = owner_filter(current_user(request))
    cred = await svc.get(request.match_info["id"], request.match_info["name"], owner_id=owner_id)
    if cred is None:
        raise NotFound("credential")
    return respond(CredentialDetail, await _detail(svc, cred, owner_id))


@routes.delete("/api/v1/instances/{id}/credentials/{name}")
@contract(
    "Remove an extra credential: exactly that user goes, its connections end",
    description="202 with the unbind operation; with ?wait=N, 204 once it is done. The application"
    " account and the other credentials keep working. 404 for an unknown name; 409 when the instance"
    " is not running.",
    path=_ONE,
    query=WaitQuery,
    responses={202: Operation, 204: None},
    errors=(409,),
)
async def delete_credential(request: web.Request) -> web.Response:
    svc = credentials(request)
    user = current_user(request)
    wait = wait_seconds(request, svc.ctx.settings.max_wait_seconds)
    operation_id = await svc.remove(
        user, request.match_info["id"], request.match_info["name"], owner_id=owner_filter(user)
    )
    if operation_id is None:
        raise NotFound("credential")
    return removal_answer(await svc.operation_after(operation_id, wait), waited=bool(wait))
