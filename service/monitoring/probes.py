"""Engine probes: connect to a running instance with dbvend's admin account and read what
tells its health. MySQL (MariaDB) through PyMySQL in a thread; Redis through
redis.asyncio. A probe never raises: it returns (up, metrics, error)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import pymysql
import redis.asyncio as aioredis
from redis.exceptions import RedisError

# root is root@localhost only; over the network dbvend has this USAGE-only account (same
# password). Instances made before it existed have root@'%' instead: tried second.
MYSQL_MONITOR = "dbvend_monitor"
MYSQL_LEGACY_ADMIN = "root"
_ACCESS_DENIED = 1045
REDIS_ADMIN = "dbvend-admin"


@dataclass(frozen=True)
class ProbeResult:
    up: bool
    metrics: dict[str, Any] = field(default_factory=dict)
    error: str | None = None


def _mysql_connect(host: str, port: int, user: str, password: str, timeout: float) -> pymysql.Connection:
    return pymysql.connect(
        host=host,
        port=port,
        user=user,
        password=password,
        connect_timeout=max(1, int(timeout)),
        read_timeout=max(1, int(timeout)),
        write_timeout=max(1, int(timeout)),
    )


def _mysql_sync(host: str, port: int, password: str, timeout: float) -> dict[str, Any]:
    try:
        conn = _mysql_connect(host, port, MYSQL_MONITOR, password, timeout)
    except pymysql.err.OperationalError as exc:
        if exc.args[0] != _ACCESS_DENIED:
            raise
        conn = _mysql_connect(host, port, MYSQL_LEGACY_ADMIN, password, timeout)
    try:
        with conn.cursor() as cur:
            cur.execute(
                "SHOW GLOBAL STATUS WHERE Variable_name IN"
                " ('Uptime', 'Threads_connected', 'Slow_queries', 'Max_used_connections')"
            )
            status = {str(name).lower(): int(value) for name, value in cur.fetchall()}
            cur.execute("SELECT @@max_connections, VERSION()")
            row = cur.fetchone()
            assert row is not None
    finally:
        conn.close()
    return {
        "uptime_seconds": status.get("uptime"),
        "threads_connected": status.get("threads_connected"),
        "connections": status.get("threads_connected"),
        "max_connections": int(row[0]),
        "max_used_connections": status.get("max_used_connections"),
        "slow_queries": status.get("slow_queries"),
        "version": str(row[1]),
    }


async def probe_mysql(host: str, port: int, password: str, limit: float = 5.0) -> ProbeResult:
    try:
        metrics = await asyncio.wait_for(
            asyncio.to_thread(_mysql_sync, host, port, password, limit), timeout=limit * 3
        )
    except (pymysql.MySQLError, OSError, TimeoutError, ValueError) as exc:
        return ProbeResult(False, error=f"mysql: {_describe(exc)}")
    return ProbeResult(True, metrics)


async def probe_redis(host: str, port: int, password: str, limit: float = 5.0) -> ProbeResult:
    client = aioredis.Redis(
        host=host,
        port=port,
        username=REDIS_ADMIN,
        password=password,
        socket_timeout=limit,
        socket_connect_timeout=limit,
    )
    try:
        info: dict[str, Any] = await asyncio.wait_for(
            client.info("server", "clients", "memory", "stats"), timeout=limit * 2
        )
    except (RedisError, OSError, TimeoutError) as exc:
        return ProbeResult(False, error=f"redis: {_describe(exc)}")
    finally:
        await client.aclose()
    return ProbeResult(
        True,
        {
            "uptime_seconds": _int(info.get("uptime_in_seconds")),
            "used_memory": _int(info.get("used_memory")),
            "maxmemory": _int(info.get("maxmemory")),
            "connected_clients": _int(info.get("connected_clients")),
            "connections": _int(info.get("connected_clients")),
            "maxclients": _int(info.get("maxclients")),
            "evicted_keys": _int(info.get("evicted_keys")),
            "rejected_connections": _int(info.get("rejected_connections")),
            "version": str(info.get("redis_version", "")),
        },
    )


def _int(value: object) -> int | None:
    if isinstance(value, int | float | str):
        try:
            return int(value)
        except ValueError:
            return None
    return None


def _describe(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text.splitlines()[0][:300]


# Counters whose growth since the previous round rules look at (name -> delta name).
COUNTERS = {
    "evicted_keys": "evicted_keys_delta",
    "rejected_connections": "rejected_connections_delta",
    "slow_queries": "slow_queries_delta",
}


def add_deltas(metrics: dict[str, Any], previous: dict[str, Any] | None) -> dict[str, Any]:
    """Counter growth since the previous round; a counter that went down (the server
    restarted) counts from zero."""
    out = dict(metrics)
    for name, delta_name in COUNTERS.items():
        now = metrics.get(name)
        if not isinstance(now, int):
            continue
        before = (previous or {}).get(name)
        if not isinstance(before, int):
            out[delta_name] = 0
        else:
            out[delta_name] = now - before if now >= before else now
    return out
