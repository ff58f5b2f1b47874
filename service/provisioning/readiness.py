"""Waiting for a new instance to serve its user: connect through the Docker host's address
with the application account, as the user will, until the server answers or time runs out.

The service does this instead of the play's `docker exec` wait (a module run per instance
on the host), and it proves more: the published port and the host address work too."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import pymysql
import redis.asyncio as aioredis
from redis.exceptions import RedisError

# A new Redis answers within milliseconds of starting: poll often (one connect each).
_POLL_SECONDS = 0.05
_ATTEMPT_SECONDS = 5.0


class NotReady(Exception):
    """The server did not accept the application account in time (the reason is the last
    client error, which never holds the password)."""


def _mysql_version(conn: Mapping[str, Any]) -> str:
    client = pymysql.connect(
        host=conn["host"],
        port=int(conn["port"]),
        user=conn["username"],
        password=conn["password"],
        database=conn.get("database") or None,
        connect_timeout=int(_ATTEMPT_SECONDS),
        read_timeout=int(_ATTEMPT_SECONDS),
    )
    try:
        with client.cursor() as cursor:
            cursor.execute("SELECT VERSION()")
            row = cursor.fetchone()
    finally:
        client.close()
    return str(row[0]) if row else ""


async def _redis_version(conn: Mapping[str, Any]) -> str:
    client = aioredis.Redis(
        host=conn["host"],
        port=int(conn["port"]),
        username=conn["username"],
        password=conn["password"],
        socket_timeout=_ATTEMPT_SECONDS,
        socket_connect_timeout=_ATTEMPT_SECONDS,
    )
    try:
        info: dict[str, Any] = await client.info("server")
    finally:
        await client.aclose()
    return str(info.get("redis_version", ""))


async def _attempt(engine: str, conn: Mapping[str, Any]) -> str:
    if engine == "mysql":
        return await asyncio.to_thread(_mysql_version, conn)
    if engine == "redis":
        return await _redis_version(conn)
    raise ValueError(f"no readiness check for engine {engine!r}")


async def wait_ready(engine: str, conn: Mapping[str, Any], within: float) -> str:
    """The server's version once the application account can connect and query; NotReady
    when it cannot within `within` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        try:
            return await asyncio.wait_for(_attempt(engine, conn), timeout=_ATTEMPT_SECONDS * 2)
        except (pymysql.MySQLError, RedisError, OSError, TimeoutError) as exc:
            reason = (str(exc) or type(exc).__name__).splitlines()[0][:300]
        if loop.time() >= deadline:
            raise NotReady(
                f"{engine} on {conn['host']}:{conn['port']} did not accept the application account"
                f" ({conn['username']}) within {within:.0f} s: {reason}"
            )
        await asyncio.sleep(_POLL_SECONDS)
