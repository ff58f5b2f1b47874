"""Talking to a Redis server over its protocol (redis.asyncio): the application account's
readiness, and the admin account's probe."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from .probe import EngineUnavailable, ProbeResult, as_int, describe

ADMIN_ACCOUNT = "dbvend-admin"


def _client(host: str, port: int, username: str, password: str, limit: float) -> aioredis.Redis:
    return aioredis.Redis(
        host=host,
        port=port,
        username=username,
        password=password,
        socket_timeout=limit,
        socket_connect_timeout=limit,
    )


async def server_version(conn: Mapping[str, Any], limit: float) -> str:
    """One attempt as the application account."""
    client = _client(conn["host"], int(conn["port"]), conn["username"], conn["password"], limit)
    try:
        info: dict[str, Any] = await asyncio.wait_for(client.info("server"), timeout=limit * 2)
    except (RedisError, OSError, TimeoutError) as exc:
        raise EngineUnavailable(describe(exc)) from None
    finally:
        await client.aclose()
    return str(info.get("redis_version", ""))


async def probe(host: str, port: int, password: str, limit: float) -> ProbeResult:
    client = _client(host, port, ADMIN_ACCOUNT, password, limit)
    try:
        info: dict[str, Any] = await asyncio.wait_for(
            client.info("server", "clients", "memory", "stats"), timeout=limit * 2
        )
    except (RedisError, OSError, TimeoutError) as exc:
        return ProbeResult(False, error=f"redis: {describe(exc)}")
    finally:
        await client.aclose()
    return ProbeResult(
        True,
        {
            "uptime_seconds": as_int(info.get("uptime_in_seconds")),
            "used_memory": as_int(info.get("used_memory")),
            "maxmemory": as_int(info.get("maxmemory")),
            "connected_clients": as_int(info.get("connected_clients")),
            "connections": as_int(info.get("connected_clients")),
            "maxclients": as_int(info.get("maxclients")),
            "evicted_keys": as_int(info.get("evicted_keys")),
            "rejected_connections": as_int(info.get("rejected_connections")),
            "version": str(info.get("redis_version", "")),
        },
    )
