"""/api/v1/tls: the CA bundle (public: a CA certificate is no secret) and, for admins, the
CAs and a CA rotation's steps."""

from __future__ import annotations

import dataclasses
import logging

from aiohttp import web

from ..web.body import read_json
from ..web.contract import contract, respond
from ..web.identity import require_admin
from ..web.schemas import parse
from .schemas import AuthorityList, RotateCaRequest
from .service import AuthorityView, CertificateService

SERVICE = web.AppKey("certificates", CertificateService)
PEM_TYPE = "application/x-pem-file"
log = logging.getLogger(__name__)
routes = web.RouteTableDef()


def _listing(items: list[AuthorityView]) -> web.Response:
    return respond(AuthorityList, {"items": [dataclasses.asdict(a) for a in items]})


@routes.get("/api/v1/tls/ca.pem")
@contract(
    "The CA bundle to verify instances' TLS certificates with (no login needed)",
    description="PEM: every CA an instance's certificate may come from. One CA normally; during a"
    " CA rotation the old and the new one. Save it (e.g. as dbvend-ca.pem) and give it to your"
    " client: mariadb --ssl-ca dbvend-ca.pem --ssl-verify-server-cert, redis-cli --tls --cacert"
    " dbvend-ca.pem. Fetch it again after an operator's CA rotation.",
    responses={200: None},
    public=True,
    raw={200: PEM_TYPE},
)
async def ca_bundle(request: web.Request) -> web.Response:
    pem = await request.app[SERVICE].bundle()
    return web.Response(
        text=pem,
        content_type=PEM_TYPE,
        headers={"Content-Disposition": 'inline; filename="dbvend-ca.pem"', "Cache-Control": "no-cache"},
    )


@routes.get("/api/v1/tls/authorities")
@contract("The deployment's CAs: active, next, retiring (admin)", admin=True, responses={200: AuthorityList})
async def list_authorities(request: web.Request) -> web.Response:
    require_admin(request)
    return _listing(await request.app[SERVICE].authorities())


@routes.post("/api/v1/tls/rotate-ca")
@contract(
    "One step of a CA rotation (admin)",
    description="begin: a new CA joins the bundle (GET /api/v1/tls/ca.pem) and signs nothing yet;"
    " let clients fetch the bundle. promote: the new CA signs and every certificate of the old"
    " one is renewed in the background (rotate-certificate operations, reloaded live). finish:"
    " the old CA leaves the bundle, once none of its certificates is left (409 before). Each"
    " step is safe to repeat. The runbook: docs/tls.md.",
    admin=True,
    request=RotateCaRequest,
    responses={200: AuthorityList},
    errors=(409,),
)
async def rotate_ca(request: web.Request) -> web.Response:
    user = require_admin(request)
    body = parse(RotateCaRequest, await read_json(request))
    found = await request.app[SERVICE].rotate_ca(body.step)
    log.warning("CA rotation step %s by %s", body.step, user.username)
    return _listing(found)
