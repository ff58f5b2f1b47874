"""/api/v1/hosts (admin): the fleet, its load and health; drain, undrain, reload."""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web

from ..web.contract import contract, respond
from ..web.identity import require_admin
from .schemas import Host, HostList
from .service import FleetService

SERVICE = web.AppKey("fleet", FleetService)
log = logging.getLogger(__name__)
routes = web.RouteTableDef()
_NAME = {"name": "host name, as in the inventory"}


def host_view(row: dict[str, Any]) -> dict[str, Any]:
    state = "down" if row["state"] == "down" else ("draining" if row["draining"] else "up")
    return {
        "name": row["name"],
        "address": row["address"],
        "state": state,
        "health": row["state"],
        "draining": row["draining"],
        "in_inventory": row["in_inventory"],
        "capacity_mb": row["capacity_mb"],
        "committed_mb": int(row["committed_mb"]),
        "instances": int(row["instances"]),
        "port_range": [row["port_min"], row["port_max"]],
        "last_check": row["last_check"].isoformat() if row["last_check"] else None,
        "reason": row["reason"],
        "server_version": row["server_version"],
        # Containers dbvend still has to remove there (each keeps its port and memory);
        # failed ones ran out of attempts and wait for an admin (POST /hosts/reload retries).
        "cleanups_pending": int(row["cleanups_pending"]),
        "cleanups_failed": int(row["cleanups_failed"]),
    }


async def _listing(svc: FleetService) -> web.Response:
    return respond(HostList, {"items": [host_view(r) for r in await svc.overview()]})


@routes.get("/api/v1/hosts")
@contract("The fleet: each host's state, capacity and load (admin)", admin=True, responses={200: HostList})
async def list_hosts(request: web.Request) -> web.Response:
    require_admin(request)
    return await _listing(request.app[SERVICE])


async def _set_draining(request: web.Request, draining: bool) -> web.Response:
    require_admin(request)
    name = request.match_info["name"]
    row = await request.app[SERVICE].set_draining(name, draining)
    log.warning("host %s %s by %s", name, "drained" if draining else "undrained", request.remote)
    return respond(Host, host_view(row))


@routes.post("/api/v1/hosts/{name}/drain")
@contract("Give a host no new instances (admin)", admin=True, path=_NAME, responses={200: Host})
async def drain(request: web.Request) -> web.Response:
    return await _set_draining(request, True)


@routes.post("/api/v1/hosts/{name}/undrain")
@contract(
    "Let a drained host take new instances again (admin)", admin=True, path=_NAME, responses={200: Host}
)
async def undrain(request: web.Request) -> web.Response:
    return await _set_draining(request, False)


@routes.post("/api/v1/hosts/reload")
@contract(
    "Read the inventory again (admin); hosts dropped from it stay, flagged",
    admin=True,
    responses={200: HostList},
    errors=(422,),
)
async def reload(request: web.Request) -> web.Response:
    require_admin(request)
    svc = request.app[SERVICE]
    retried = await svc.reload_for_admin()
    if retried:
        log.warning("inventory reload by %s: %d failed cleanup(s) armed again", request.remote, retried)
    return await _listing(svc)
