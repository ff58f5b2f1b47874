"""/api/v1 backups: take one, list them, read, delete, download. Every route filters by owner
(another user's backup or instance is 404); the work runs as operations (kinds/backup.py)
and answers 202, or the result with ?wait=N. A restore is a day-2 action of the instance
(service/instances)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ..db.backups import Backup as BackupRow
from ..engines import ENGINES
from ..errors import NotFound
from ..web.contract import contract, read_query, respond
from ..web.cursors import decode_cursor, encode_cursor
from ..web.identity import current_user, owner_filter
from ..web.operations import wait_seconds
from ..web.queries import WaitQuery
from .schemas import Backup, BackupListQuery, BackupPage, BackupPageQuery
from .service import BackupService

SERVICE = web.AppKey("backups", BackupService)
routes = web.RouteTableDef()

_ID = {"id": "instance id"}
_BID = {"id": "backup id"}
# A download's media type, by the backup's format (the engine's).
_TYPES = {e.backup_format: e.backup_media_type for e in ENGINES.values()}
SHA256_HEADER = "X-Dbvend-Sha256"


def backup_view(b: BackupRow) -> dict[str, Any]:
    return {
        "id": b.id,
        "instance_id": b.instance_id,
        "engine": b.engine,
        "status": b.status,
        "format": b.format,
        "size_bytes": b.size_bytes,
        "sha256": b.sha256,
        "scheduled": b.scheduled,
        "final": b.final,
        "error": b.error,
        "created_at": b.created_at,
        "started_at": b.started_at,
        "finished_at": b.finished_at,
        "operation_id": b.operation_id,
        "instance_name": b.instance_name,
        "instance_deleted": b.instance_deleted,
    }


def backups(request: web.Request) -> BackupService:
    return request.app[SERVICE]


async def _backup(request: web.Request) -> BackupRow:
    found = await backups(request).get(request.match_info["id"], owner_id=owner_filter(current_user(request)))
    if found is None:
        raise NotFound("backup")
    return found


async def _page(
    svc: BackupService, *, owner_id: int | None, instance_id: str | None, limit: int, cursor: str | None
) -> web.Response:
    after = decode_cursor(cursor) if cursor else None
    found = await svc.page(owner_id=owner_id, instance_id=instance_id, limit=limit + 1, after=after)
    more = len(found) > limit
    found = found[:limit]
    next_cursor = encode_cursor(found[-1].created_at, found[-1].id) if more and found else None
    return respond(BackupPage, {"items": [backup_view(b) for b in found], "next_cursor": next_cursor})


@routes.post("/api/v1/instances/{id}/backups")
@contract(
    "Back up the instance into the service's store",
    description="A consistent dump (MariaDB, sql.gz) or RDB (Redis), made on the instance's host,"
    " checksummed end to end, encrypted with the service's key in the store and removed from the host."
    " 202 with the backup (pending; its operation_id says how it goes); with ?wait=N 201 once it is"
    " completed. The instance must be running or stopped (409). Over your backup quota: 403"
    " quota_exceeded naming quota.backup_mb, nothing recorded. Another user's instance is 404.",
    path=_ID,
    query=WaitQuery,
    responses={201: Backup, 202: Backup},
    errors=(403, 409),
)
async def create_backup(request: web.Request) -> web.Response:
    svc = backups(request)
    user = current_user(request)
    wait = wait_seconds(request, svc.ctx.settings.max_wait_seconds)
    accepted = await svc.request(user, request.match_info["id"], owner_id=owner_filter(user))
    status = 202
    if wait:
        op = await svc.wait(accepted.operation_id, wait)
        if op is not None and op.status == "succeeded":
            status = 201
    found = await svc.get(accepted.backup_id)
    if found is None:
        raise NotFound("backup")
    headers = {
        "Location": f"/api/v1/backups/{found.id}",
        "Operation-Location": f"/api/v1/operations/{accepted.operation_id}",
    }
    return respond(Backup, backup_view(found), status=status, headers=headers)


@routes.get("/api/v1/instances/{id}/backups")
@contract(
    "The instance's backups, newest first", path=_ID, query=BackupPageQuery, responses={200: BackupPage}
)
async def list_instance_backups(request: web.Request) -> web.Response:
    svc = backups(request)
    owner_id = owner_filter(current_user(request))
    query = read_query(request, BackupPageQuery)
    instance_id = await svc.instance_of(request.match_info["id"], owner_id=owner_id)
    if instance_id is None:
        raise NotFound("instance")
    return await _page(
        svc, owner_id=owner_id, instance_id=instance_id, limit=query.limit, cursor=query.cursor
    )


@routes.get("/api/v1/backups")
@contract(
    "Your backups, newest first",
    description="With instance_id also a deleted instance's backups (its final backup).",
    query=BackupListQuery,
    responses={200: BackupPage},
)
async def list_backups(request: web.Request) -> web.Response:
    query = read_query(request, BackupListQuery)
    return await _page(
        backups(request),
        owner_id=owner_filter(current_user(request)),
        instance_id=query.instance_id,
        limit=query.limit,
        cursor=query.cursor,
    )


@routes.get("/api/v1/backups/{id}")
@contract("One backup", path=_BID, responses={200: Backup})
async def get_backup(request: web.Request) -> web.Response:
    return respond(Backup, backup_view(await _backup(request)))


@routes.delete("/api/v1/backups/{id}")
@contract(
    "Delete a backup and its file",
    description="409 while it is being made, or while a restore or clone reads it.",
    path=_BID,
    responses={204: None},
    errors=(409,),
)
async def delete_backup(request: web.Request) -> web.Response:
    found = await _backup(request)
    if not await backups(request).delete(found.id, owner_id=owner_filter(current_user(request))):
        raise NotFound("backup")
    return web.Response(status=204)


@routes.get("/api/v1/backups/{id}/download")
@contract(
    "Download a completed backup (decrypted)",
    description="A MariaDB backup is a gzip'd SQL dump (`gunzip < x.sql.gz | mysql ...`); a Redis"
    f" backup is an RDB file redis-server loads. {SHA256_HEADER} holds its SHA-256. 409 when the"
    " backup is not completed, or its stored file does not authenticate; 503 when its store host"
    " (DBVEND_BACKUP_HOST) does not give the file back now.",
    path=_BID,
    responses={200: None},
    errors=(409, 503),
    raw={200: ", ".join(_TYPES.values())},
)
async def download_backup(request: web.Request) -> web.StreamResponse:
    found = await _backup(request)
    async with backups(request).download(found) as download:
        name = f"{found.instance_id}-{found.id}.{found.format}"
        response = web.StreamResponse(
            status=200,
            headers={
                "Content-Type": _TYPES[found.format],
                "Content-Disposition": f'attachment; filename="{name}"',
                "Content-Length": str(found.size_bytes),
                SHA256_HEADER: found.sha256 or "",
            },
        )
        await response.prepare(request)
        chunk = download.first
        while chunk is not None:
            await response.write(chunk)
            # A chunk that does not authenticate ends the stream short of Content-Length.
            chunk = await download.next()
        await response.write_eof()
        return response
