"""Ports through the real path: bursts of creates, and a port taken by something else."""

from __future__ import annotations

import asyncio
import socket

import asyncpg
import pymysql
import redis

from tests.conftest import UserFactory
from tests.helpers import TEST_PORTS, Api


def connects(inst: dict[str, object]) -> bool:
    conn = inst["connection"]
    assert isinstance(conn, dict)
    if inst["engine"] == "redis":
        return bool(
            redis.Redis(
                host=conn["host"],
                port=conn["port"],
                username=conn["username"],
                password=conn["password"],
                socket_timeout=10,
            ).ping()
        )
    with (
        pymysql.connect(
            host=conn["host"],
            port=conn["port"],
            user=conn["username"],
            password=conn["password"],
            database=conn["database"],
            connect_timeout=10,
        ) as c,
        c.cursor() as cur,
    ):
        cur.execute("SELECT 1")
        return cur.fetchone() == (1,)


async def test_ten_concurrent_creates_get_distinct_ports_and_all_connect(
    service: Api, make_user: UserFactory, db: asyncpg.Pool
) -> None:
    _, token = await make_user("burst")
    engines = ["redis"] * 7 + ["mysql"] * 3
    results = await asyncio.gather(
        *(
            service.call("POST", "/instances?wait=240", token, json={"engine": e, "name": f"b{i}"})
            for i, e in enumerate(engines)
        )
    )
    assert [s for s, _ in results] == [201] * 10, [b for s, b in results if s != 201]
    instances = [b for _, b in results]
    ports = [i["placement"]["port"] for i in instances]
    assert len(set(ports)) == 10
    assert all(TEST_PORTS[0] <= p <= TEST_PORTS[1] for p in ports)
    for inst in instances:
        assert await asyncio.to_thread(connects, inst), inst["id"]
    # Claimed once each in PostgreSQL, and the batch took fewer Ansible runs than instances.
    claims = await db.fetch(
        "SELECT port FROM port_claims WHERE instance_id = ANY($1)", [i["id"] for i in instances]
    )
    assert sorted(r["port"] for r in claims) == sorted(ports)
    status, listing = await service.call("GET", "/instances?limit=4", token)
    assert status == 200
    assert len(listing["items"]) == 4
    assert listing["next_cursor"]
    seen = [i["id"] for i in listing["items"]]
    while listing["next_cursor"]:
        status, listing = await service.call(
            "GET", f"/instances?limit=4&cursor={listing['next_cursor']}", token
        )
        seen += [i["id"] for i in listing["items"]]
    assert sorted(seen) == sorted(i["id"] for i in instances)
    deletes = await asyncio.gather(
        *(service.call("DELETE", f"/instances/{i['id']}?wait=120", token) for i in instances)
    )
    assert [s for s, _ in deletes] == [204] * 10


async def test_a_port_bound_by_something_else_is_never_handed_out(
    service: Api, make_user: UserFactory, db: asyncpg.Pool
) -> None:
    _, token = await make_user("port")
    taken = {r["port"] for r in await db.fetch("SELECT port FROM port_claims WHERE host = 'local'")}
    squatted = next(p for p in range(TEST_PORTS[0], TEST_PORTS[1]) if p not in taken)
    squatter = socket.socket()
    squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    squatter.bind(("127.0.0.1", squatted))
    squatter.listen()
    try:
        status, inst = await service.call("POST", "/instances?wait=120", token, json={"engine": "redis"})
        assert status == 201, inst
        assert inst["placement"]["port"] != squatted
        assert await asyncio.to_thread(connects, inst)
        blocked = await db.fetchrow("SELECT * FROM port_claims WHERE host = 'local' AND port = $1", squatted)
        assert blocked is not None
        assert blocked["instance_id"] is None
        assert "in use outside dbvend" in blocked["reason"]
        # The next create does not try the squatted port either.
        status, second = await service.call("POST", "/instances?wait=120", token, json={"engine": "redis"})
        assert status == 201
        assert second["placement"]["port"] not in (squatted, inst["placement"]["port"])
    finally:
        squatter.close()
    for instance in (inst, second):
        status, _ = await service.call("DELETE", f"/instances/{instance['id']}?wait=60", token)
        assert status == 204


async def test_names_are_unique_per_owner(service: Api, make_user: UserFactory) -> None:
    _, alice = await make_user("alice")
    _, bob = await make_user("bob")
    status, first = await service.call(
        "POST", "/instances?wait=60", alice, json={"engine": "redis", "name": "same"}
    )
    assert status == 201
    status, body = await service.call("POST", "/instances", alice, json={"engine": "redis", "name": "same"})
    assert status == 409
    assert body["error"]["details"][0]["field"] == "name"
    status, other = await service.call(
        "POST", "/instances?wait=60", bob, json={"engine": "redis", "name": "same"}
    )
    assert status == 201
    for token, inst in ((alice, first), (bob, other)):
        assert (await service.call("DELETE", f"/instances/{inst['id']}?wait=60", token))[0] == 204
