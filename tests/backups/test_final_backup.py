"""DELETE /instances/{id}?final_backup=true whose final backup fails for real (the instance's
container is paused, so the backup's `docker exec` is refused): the delete fails with
"final backup failed: ...", the instance is `running` again with its data and credentials,
and a retry once the server answers deletes it, keeping a completed final backup."""

from __future__ import annotations

import docker
import redis

from tests.conftest import UserFactory
from tests.helpers import Api, dbvend_containers


async def test_a_failed_final_backup_stops_the_delete(service: Api, make_user: UserFactory) -> None:
    _, token = await make_user("final")
    status, inst = await service.call(
        "POST", "/instances?wait=240", token, json={"engine": "redis", "settings": {"maxmemory": "32mb"}}
    )
    assert status == 201, inst
    c = inst["connection"]
    client = redis.Redis(host=c["host"], port=c["port"], username=c["username"], password=c["password"])
    client.set("kept", "yes")

    engine = docker.from_env()
    (container,) = [x for x in dbvend_containers(engine, inst["id"]) if x.status == "running"]
    container.pause()
    try:
        status, op = await service.call(
            "DELETE", f"/instances/{inst['id']}?final_backup=true&wait=240", token
        )
    finally:
        container.unpause()
        engine.close()
    assert status == 202, op
    assert op["status"] == "failed", op
    assert op["error"].startswith("final backup failed: "), op

    status, got = await service.call("GET", f"/instances/{inst['id']}", token)
    assert status == 200, got
    assert got["status"] == "running", got
    assert got["connection"]["password"] == c["password"]
    try:
        assert client.get("kept") == b"yes"
    finally:
        client.close()
    status, listed = await service.call("GET", f"/backups?instance_id={inst['id']}", token)
    assert status == 200, listed
    assert [b["status"] for b in listed["items"] if b["final"]] == ["failed"], listed

    # The user retries once the server answers: deleted, with its final backup.
    status, body = await service.call("DELETE", f"/instances/{inst['id']}?final_backup=true&wait=240", token)
    assert status == 204, body
    status, listed = await service.call("GET", f"/backups?instance_id={inst['id']}", token)
    assert status == 200, listed
    assert sorted(b["status"] for b in listed["items"] if b["final"]) == ["completed", "failed"], listed
