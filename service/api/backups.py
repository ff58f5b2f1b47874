"""/api/v1 backups: take one, list them, read, delete, download, restore in place. Every
route filters by owner (another user's backup or instance is 404); the work runs as
operations (kinds/backup.py, kinds/restore.py) and answers 202, or the result with ?wait=N."""

from __future__ import annotations

import asyncio
import logging
import re
import shutil
from pathlib import Path
from typing import Any

from aiohttp import web

from ..backups import intake as backup_intake
from ..backupstore.envelope import CorruptBackup
from ..backupstore.remote import StoreHostError, StoreHosts, readable
from ..backupstore.staging import Staging
from ..backupstore.store import BackupStore
from ..db import backups, instances, operations
from ..db.backups import Backup as BackupRow
from ..errors import Conflict, NotFound, Unavailable
from .auth import current_user, owner_filter
from .backup_models import (
    Backup,
    BackupListQuery,
    BackupPage,
    BackupPageQuery,
    RestoreOperation,
    RestoreRequest,
    RestoreResult,
)
from .context import Services, services
from .contract import contract, read_query, respond
from .cursors import decode_cursor, encode_cursor
from .errors import read_json
from .instances import wait_seconds
from .queries import WaitQuery
from .schemas import parse
from .views import instance_view, operation_view

log = logging.getLogger(__name__)
routes = web.RouteTableDef()

_BACKUP_ID = re.compile(r"b-[a-z0-9]{6,40}")
_ID = {"id": "instance id"}
_BID = {"id": "backup id"}
_TYPES = {"sql.gz": "application/gzip", "rdb": "application/octet-stream"}
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
    }


def store_of(svc: Services) -> BackupStore:
    return BackupStore(svc.settings.backup_dir, svc.box)


def store_hosts(svc: Services) -> StoreHosts:
    return StoreHosts(svc.runner, lambda: svc.hosts)


async def _backup(request: web.Request) -> BackupRow:
    backup_id = request.match_info["id"]
    svc = services(request)
    found = None
    if _BACKUP_ID.fullmatch(backup_id):
        found = await backups.get(svc.pool, backup_id, owner_id=owner_filter(current_user(request)))
    if found is None:
        raise NotFound("backup")
    return found


async def _page(
    svc: Services, *, owner_id: int | None, instance_id: str | None, limit: int, cursor: str | None
) -> web.Response:
    after = decode_cursor(cursor) if cursor else None
    found = await backups.page(
        svc.pool, owner_id=owner_id, instance_id=instance_id, limit=limit + 1, after=after
    )
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
    svc = services(request)
    user = current_user(request)
    wait = wait_seconds(request, svc)
    accepted = await backup_intake.request_backup(
        svc.pool,
        user,
        request.match_info["id"],
        owner_id=owner_filter(user),
        max_attempts=svc.settings.max_attempts,
        quota_mb=svc.settings.quota_backup_mb,
    )
    status = 202
    if wait:
        op = await svc.waiter.wait(accepted.operation_id, wait)
        if op is not None and op.status == "succeeded":
            status = 201
    found = await backups.get(svc.pool, accepted.backup_id)
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
    svc = services(request)
    owner_id = owner_filter(current_user(request))
    query = read_query(request, BackupPageQuery)
    inst = await instances.get(svc.pool, request.match_info["id"], owner_id=owner_id)
    if inst is None:
        raise NotFound("instance")
    return await _page(svc, owner_id=owner_id, instance_id=inst.id, limit=query.limit, cursor=query.cursor)


@routes.get("/api/v1/backups")
@contract(
    "Your backups, newest first",
    description="With instance_id also a deleted instance's backups (its final backup).",
    query=BackupListQuery,
    responses={200: BackupPage},
)
async def list_backups(request: web.Request) -> web.Response:
    svc = services(request)
    query = read_query(request, BackupListQuery)
    return await _page(
        svc,
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
    svc = services(request)
    found = await _backup(request)
    deleted = await backup_intake.delete_backup(
        svc.pool,
        store_of(svc),
        found.id,
        owner_id=owner_filter(current_user(request)),
        hosts=store_hosts(svc),
    )
    if not deleted:
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
    raw={200: "application/gzip, application/octet-stream"},
)
async def download_backup(request: web.Request) -> web.StreamResponse:
    svc = services(request)
    found = await _backup(request)
    if found.status != "completed" or found.path is None or found.size_bytes is None:
        raise Conflict(f"backup {found.id} is {found.status}; only a completed backup downloads")
    # A backup on a store host: its ciphertext comes back into a staging dir first.
    staging = Staging(svc.settings.staging_dir).make() if found.store_host else None
    try:
        return await _stream(request, svc, found, staging)
    finally:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)


async def _stream(
    request: web.Request, svc: Services, found: BackupRow, staging: Path | None
) -> web.StreamResponse:
    assert found.path is not None
    store = store_of(svc)
    if staging is not None:
        try:
            store = await readable(store_hosts(svc), store, found, staging, svc.box)
        except StoreHostError as exc:
            log.error("download of %s: %s", found.id, exc)
            raise Unavailable(
                f"backup {found.id}'s store host {found.store_host!r} did not give its file back"
            ) from None
    try:
        src, chunks = await asyncio.to_thread(store.chunks, found.path)
    except OSError:
        raise Conflict(f"backup {found.id}'s file is missing from the store") from None
    it: Any = chunks
    try:
        try:
            first = await asyncio.to_thread(next, it, None)
        except CorruptBackup as exc:
            raise Conflict(f"backup {found.id}'s stored file is corrupt: {exc}") from None
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
        chunk = first
        while chunk is not None:
            await response.write(chunk)
            # A chunk that does not authenticate ends the stream short of Content-Length.
            chunk = await asyncio.to_thread(next, it, None)
        await response.write_eof()
        return response
    finally:
        src.close()


@routes.post("/api/v1/instances/{id}/restore")
@contract(
    "Replace a running instance's data with one of your backups, in place",
    description="The backup must be completed (409), of the instance's engine (422 naming"
    " backup_id) and yours (404). The old data is kept aside until the new data serves and put"
    " back if it does not; credentials are unchanged. 202 with the operation (its facts say"
    " restored / rolled_back), or with ?wait=N the instance (200) once it has the backup's data.",
    path=_ID,
    query=WaitQuery,
    request=RestoreRequest,
    responses={200: RestoreResult, 202: RestoreOperation},
    errors=(409,),
)
async def restore_instance(request: web.Request) -> web.Response:
    svc = services(request)
    user = current_user(request)
    wait = wait_seconds(request, svc)
    body = parse(RestoreRequest, await read_json(request))
    accepted = await backup_intake.request_restore(
        svc.pool,
        user,
        request.match_info["id"],
        body.backup_id,
        owner_id=owner_filter(user),
        max_attempts=svc.settings.max_attempts,
    )
    headers = {
        "Location": f"/api/v1/instances/{accepted.instance_id}",
        "Operation-Location": f"/api/v1/operations/{accepted.operation_id}",
    }
    op = await svc.waiter.wait(accepted.operation_id, wait) if wait else None
    if op is None or op.status != "succeeded":
        op = op or await operations.get(svc.pool, accepted.operation_id)
        assert op is not None
        body_202 = {**operation_view(op), "backup_id": accepted.backup_id}
        return respond(RestoreOperation, body_202, status=202, headers=headers)
    inst = await instances.get(svc.pool, accepted.instance_id)
    if inst is None:
        raise NotFound("instance")
    done = {**instance_view(inst, svc.box), "operation_id": op.id, "backup_id": accepted.backup_id}
    return respond(RestoreResult, done, status=200, headers=headers)
