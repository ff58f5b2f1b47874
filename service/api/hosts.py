"""/api/v1/hosts (admin): the fleet, its load and health; drain, undrain, reload."""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web

from ..backupstore.remote import check_store_host
from ..config import ConfigError
from ..db import hosts as hosts_repo
from ..errors import Invalid, NotFound
from ..inventory import InventoryError, load_inventory
from .auth import require_admin
from .context import Services, services
from .contract import contract, respond
from .models import Host, HostList

log = logging.getLogger(__name__)
routes = web.RouteTableDef()
_NAME = {"name": "host name, as in the inventory"}


async def reload_hosts(svc: Services) -> None:
    """Read the inventory again and record its hosts; hosts dropped from it stay, flagged,
    so their instances remain visible. A broken inventory changes nothing."""
    loaded = await load_inventory(svc.settings.inventory)
    # An inventory without the backup store host would strand every backup kept there.
    check_store_host(svc.settings.backup_host, {h.name: h for h in loaded}, svc.settings.inventory)
    async with svc.pool.acquire() as conn:
        await hosts_repo.sync(conn, loaded)
    svc.hosts = {h.name: h for h in loaded}
    if svc.worker is not None:
        svc.worker.update_hosts(svc.hosts)
    log.info("inventory %s: %d host(s): %s", svc.settings.inventory, len(loaded), ", ".join(svc.hosts))


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


async def _listing(svc: Services) -> web.Response:
    return respond(HostList, {"items": [host_view(r) for r in await hosts_repo.overview(svc.pool)]})


@routes.get("/api/v1/hosts")
@contract("The fleet: each host's state, capacity and load (admin)", admin=True, responses={200: HostList})
async def list_hosts(request: web.Request) -> web.Response:
    require_admin(request)
    return await _listing(services(request))


async def _set_draining(request: web.Request, draining: bool) -> web.Response:
    require_admin(request)
    svc = services(request)
    name = request.match_info["name"]
    if not await hosts_repo.set_draining(svc.pool, name, draining):
        raise NotFound("host")
    log.warning("host %s %s by %s", name, "drained" if draining else "undrained", request.remote)
    row = next(r for r in await hosts_repo.overview(svc.pool) if r["name"] == name)
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
    svc = services(request)
    try:
        await reload_hosts(svc)
    except (InventoryError, ConfigError) as exc:
        raise Invalid(
            [], message=f"the inventory was not reloaded: {exc}", code="invalid_inventory"
        ) from None
    retried = await hosts_repo.retry_failed_cleanups(svc.pool)
    if retried:
        log.warning("inventory reload by %s: %d failed cleanup(s) armed again", request.remote, retried)
    return await _listing(svc)
