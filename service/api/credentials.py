"""/api/v1/instances/{id}/credentials: an instance's extra credentials, each one more
database user, made (bind) and removed (unbind) one by one without touching the
application account (provisioning/credentials.py, which the service broker calls too).
Owner-filtered: another user's instance is 404."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ..db import instances
from ..errors import NotFound
from ..operations import credentials
from ..operations.credentials import Credential
from .auth import current_user, owner_filter
from .context import Services, services
from .contract import contract, respond
from .credential_models import CreateCredentialRequest, CredentialDetail, CredentialList
from .credential_models import Credential as CredentialOut
from .errors import read_json
from .instances import removal_answer, wait_seconds
from .models import Operation
from .queries import WaitQuery
from .schemas import parse

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


async def _detail(svc: Services, cred: Credential, owner_id: int | None) -> dict[str, Any]:
    found = await credentials.credential_connection(
        svc.pool, svc.box, cred.instance_id, cred.name, owner_id=owner_id
    )
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
    svc = services(request)
    user = current_user(request)
    wait = wait_seconds(request, svc)
    body = parse(CreateCredentialRequest, await read_json(request))
    owner_id = owner_filter(user)
    cred, created = await credentials.request_credential(
        svc.pool,
        svc.box,
        user,
        request.match_info["id"],
        body.name,
        owner_id=owner_id,
        max_attempts=svc.settings.max_attempts,
    )
    if wait and cred.status == "creating":
        await svc.waiter.wait(cred.operation_id, wait)
        cred = (
            await credentials.get_credential(svc.pool, cred.instance_id, cred.name, owner_id=owner_id) or cred
        )
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
    svc = services(request)
    user = current_user(request)
    instance_id = request.match_info["id"]
    if not await _visible(svc, instance_id, owner_filter(user)):
        raise NotFound("instance")
    found = await credentials.list_credentials(svc.pool, instance_id, owner_id=owner_filter(user))
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
    svc = services(request)
    owner_id = owner_filter(current_user(request))
    cred = await credentials.get_credential(
        svc.pool, request.match_info["id"], request.match_info["name"], owner_id=owner_id
    )
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
    svc = services(request)
    user = current_user(request)
    wait = wait_seconds(request, svc)
    operation_id = await credentials.remove_credential(
        svc.pool,
        user,
        request.match_info["id"],
        request.match_info["name"],
        owner_id=owner_filter(user),
        max_attempts=svc.settings.max_attempts,
    )
    if operation_id is None:
        raise NotFound("credential")
    return await removal_answer(svc, operation_id, wait)


async def _visible(svc: Services, instance_id: str, owner_id: int | None) -> bool:
    return await instances.get(svc.pool, instance_id, owner_id=owner_id) is not None
