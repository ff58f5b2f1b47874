"""The backup routes on the in-process service with real instances (one Redis, one
MariaDB). The backup itself is made here as the backup kind would leave it (a row and an
encrypted store file), so these run without the roles' backup tasks: tenancy (another
user's backup or instance is 404 while the owner gets it), the engine check (422), the
download (bytes, SHA-256 header, type), a corrupt store file (the restore fails clearly
before the instance is touched, the data stays), the quota (403) and the delete."""

from __future__ import annotations

import hashlib
from typing import Any

import asyncpg
import redis

from service.app import RUNTIME
from service.backupstore.store import BackupStore
from service.db.ids import new_id
from tests.conftest import UserFactory
from tests.helpers import Api

RDB = b"REDIS0011" + bytes(range(256)) * 40


async def _fake_backup(service: Api, db: asyncpg.Pool, inst: dict[str, Any], data: bytes, fmt: str) -> str:
    """A completed backup of `inst` holding `data`, as the backup kind records one."""
    svc = service.client.app[RUNTIME]
    store = BackupStore(svc.settings.backup_dir, svc.box)
    backup_id = new_id("b-", 10)
    plain = svc.settings.state_dir / f"{backup_id}.plain"
    plain.write_bytes(data)
    sha = hashlib.sha256(data).hexdigest()
    size, _, relative = store.put(backup_id, fmt, plain, sha)
    owner = await db.fetchval("SELECT owner_id FROM instances WHERE id = $1", inst["id"])
    await db.execute(
        "INSERT INTO backups (id, instance_id, owner_id, engine, status, format, size_bytes, sha256, path,"
        " started_at, finished_at) VALUES ($1, $2, $3, $4, 'completed', $5, $6, $7, $8, now(), now())",
        backup_id,
        inst["id"],
        owner,
        inst["engine"],
        fmt,
        size,
        sha,
        relative,
    )
    return backup_id


async def _download(service: Api, token: str, backup_id: str) -> tuple[int, bytes, Any]:
    async with service.client.get(
        f"/api/v1/backups/{backup_id}/download", headers={"Authorization": f"Bearer {token}"}
    ) as resp:
        return resp.status, await resp.read(), resp.headers


def _redis(inst: dict[str, Any]) -> redis.Redis:
    c = inst["connection"]
    return redis.Redis(host=c["host"], port=c["port"], username=c["username"], password=c["password"])


async def test_backup_routes_tenancy_engine_download_corrupt_quota_delete(
    service: Api, make_user: UserFactory, admin_token: str, db: asyncpg.Pool
) -> None:
    alice, token = await make_user("bk")
    _, other = await make_user("bk-other")
    status, rinst = await service.call("POST", "/instances?wait=240", token, json={"engine": "redis"})
    assert status == 201, rinst
    status, minst = await service.call("POST", "/instances?wait=240", token, json={"engine": "mysql"})
    assert status == 201, minst
    _redis(rinst).set("k", "before")
    backup_id = await _fake_backup(service, db, rinst, RDB, "rdb")

    # The owner sees it; another user gets 404 on every route, and nothing is recorded.
    status, got = await service.call("GET", f"/backups/{backup_id}", token)
    assert status == 200, got
    assert got["status"] == "completed"
    assert got["format"] == "rdb"
    assert got["size_bytes"] == len(RDB)
    status, page = await service.call("GET", f"/instances/{rinst['id']}/backups", token)
    assert status == 200
    assert [b["id"] for b in page["items"]] == [backup_id]
    status, page = await service.call("GET", f"/backups?instance_id={rinst['id']}", token)
    assert status == 200
    assert [b["id"] for b in page["items"]] == [backup_id]
    for method, path in (
        ("GET", f"/backups/{backup_id}"),
        ("GET", f"/backups/{backup_id}/download"),
        ("DELETE", f"/backups/{backup_id}"),
        ("POST", f"/instances/{rinst['id']}/backups"),
        ("GET", f"/instances/{rinst['id']}/backups"),
    ):
        status, body = await service.call(method, path, other)
        assert status == 404, (method, path, body)
    status, body = await service.call("GET", "/backups", other)
    assert status == 200
    assert body["items"] == []
    before = await db.fetchval("SELECT count(*) FROM instances")
    status, body = await service.call(
        "POST", "/instances", other, json={"engine": "redis", "restore_from": backup_id}
    )
    assert status == 404, body
    assert await db.fetchval("SELECT count(*) FROM instances") == before

    # A Redis backup into MariaDB: 422 naming the field, in place and as a clone.
    status, body = await service.call(
        "POST", f"/instances/{minst['id']}/restore", token, json={"backup_id": backup_id}
    )
    assert status == 422, body
    assert body["error"]["details"][0]["field"] == "backup_id"
    status, body = await service.call(
        "POST", "/instances", token, json={"engine": "mysql", "restore_from": backup_id}
    )
    assert status == 422, body
    assert body["error"]["details"][0]["field"] == "restore_from"
    assert await db.fetchval("SELECT count(*) FROM instances") == before
    for bad in ("b-UPPER01", "b-x\n", "x" * 100):
        status, body = await service.call(
            "POST", f"/instances/{rinst['id']}/restore", token, json={"backup_id": bad}
        )
        assert status == 422, (bad, body)

    # The download: the plaintext, its SHA-256 in a header, Content-Length.
    status, data, headers = await _download(service, token, backup_id)
    assert status == 200
    assert data == RDB
    assert data.startswith(b"REDIS")
    assert headers["X-Dbvend-Sha256"] == hashlib.sha256(RDB).hexdigest()
    assert headers["Content-Type"] == "application/octet-stream"
    assert int(headers["Content-Length"]) == len(RDB)

    # A corrupt store file: the restore fails saying so, before the instance is touched.
    svc = service.client.app[RUNTIME]
    path = svc.settings.backup_dir / f"{backup_id}.rdb.enc"
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0x01
    path.write_bytes(bytes(raw))
    status, op = await service.call(
        "POST", f"/instances/{rinst['id']}/restore?wait=120", token, json={"backup_id": backup_id}
    )
    assert status == 202, op
    assert op["status"] == "failed", op
    assert "cannot be read from the store" in op["error"], op
    assert "stays running" in op["error"], op
    assert _redis(rinst).get("k") == b"before"
    status, inst = await service.call("GET", f"/instances/{rinst['id']}", token)
    assert inst["status"] == "running"
    status, body = await service.call("GET", f"/backups/{backup_id}/download", token)
    assert status == 409, body

    # Over the backup quota: 403 naming quota.backup_mb, nothing recorded.
    status, body = await service.call(
        "PATCH", f"/users/{alice}", admin_token, json={"quota": {"backup_mb": 0}}
    )
    assert status == 200, body
    assert body["quota"]["backup_mb"]["limit"] == 0
    assert body["quota"]["backup_mb"]["used"] == 1
    count = await db.fetchval("SELECT count(*) FROM backups WHERE instance_id = $1", rinst["id"])
    status, body = await service.call("POST", f"/instances/{rinst['id']}/backups", token)
    assert status == 403, body
    assert body["error"]["code"] == "quota_exceeded"
    assert body["error"]["details"][0]["field"] == "quota.backup_mb"
    assert await db.fetchval("SELECT count(*) FROM backups WHERE instance_id = $1", rinst["id"]) == count

    # Delete: 204, gone from the API and from the store.
    status, _ = await service.call("DELETE", f"/backups/{backup_id}", token)
    assert status == 204
    assert (await service.call("GET", f"/backups/{backup_id}", token))[0] == 404
    assert not path.exists()
    for inst in (rinst, minst):
        assert (await service.call("DELETE", f"/instances/{inst['id']}?wait=120", token))[0] == 204
