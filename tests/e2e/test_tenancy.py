"""Every instance belongs to its creator: another user's id is a 404 on every route."""

from __future__ import annotations

from tests.conftest import UserFactory
from tests.helpers import Api


async def test_other_users_get_404_everywhere(service: Api, make_user: UserFactory, admin_token: str) -> None:
    _, owner = await make_user("owner")
    _, stranger = await make_user("stranger")
    status, inst = await service.call("POST", "/instances?wait=60", owner, json={"engine": "redis"})
    assert status == 201
    iid, op = inst["id"], inst["operation_id"]

    for method, path in [
        ("GET", f"/instances/{iid}"),
        ("DELETE", f"/instances/{iid}"),
        ("GET", f"/operations/{op}"),
    ]:
        status, body = await service.call(method, path, stranger)
        assert status == 404, (method, path)
        assert body["error"]["code"] == "not_found"
    status, listing = await service.call("GET", "/instances", stranger)
    assert iid not in [i["id"] for i in listing["items"]]
    # The stranger's DELETE changed nothing.
    status, again = await service.call("GET", f"/instances/{iid}", owner)
    assert status == 200
    assert again["status"] == "running"

    # The owner and admins see it, with the operation that made it.
    status, op_body = await service.call("GET", f"/operations/{op}", owner)
    assert status == 200
    assert op_body["status"] == "succeeded"
    assert op_body["facts"]["container_name"] == f"dbvend-{iid}"
    status, _ = await service.call("GET", f"/instances/{iid}", admin_token)
    assert status == 200
    status, _ = await service.call("DELETE", f"/instances/{iid}?wait=60", owner)
    assert status == 204
