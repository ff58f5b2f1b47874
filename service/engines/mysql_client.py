"""Talking to a MariaDB/MySQL server over its protocol (PyMySQL, in a thread): the
application account's readiness, and the monitor account's probe.

tls_ca (the CA bundle, PEM): TLS with the certificate and the host name checked, as users
are told to. Without it PyMySQL still uses TLS when the server offers it, unverified."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import pymysql

from ..tls import client_context
from .probe import EngineUnavailable, ProbeResult, describe

# root is root@localhost only; over the network dbvend has this USAGE-only account (same
# password as root). Instances made before it existed have root@'%' instead: tried second.
MONITOR_ACCOUNT = "dbvend_monitor"
LEGACY_ADMIN = "root"
_ACCESS_DENIED = 1045


def tls_arguments(tls_ca: str | None) -> dict[str, Any]:
    """PyMySQL's TLS arguments: verified against the bundle (certificate and host name),
    or none at all. Without either, PyMySQL "prefers" TLS: it builds a context from the
    system's whole trust store for every connection (~30 ms here) and would use it without
    verifying anything."""
    return {"ssl": client_context(tls_ca)} if tls_ca else {"ssl_disabled": True}


def _connect(
    host: str,
    port: int,
    user: str,
    password: str,
    timeout: float,
    database: str | None = None,
    *,
    tls_ca: str | None = None,
) -> Any:
    seconds = max(1, int(timeout))
    return pymysql.connect(
        host=host,
        port=port,
        user=user,
        password=password,
        database=database,
        connect_timeout=seconds,
        read_timeout=seconds,
        write_timeout=seconds,
        **tls_arguments(tls_ca),
    )


def _version_sync(conn: Mapping[str, Any], limit: float, tls_ca: str | None) -> str:
    client = _connect(
        conn["host"],
        int(conn["port"]),
        conn["username"],
        conn["password"],
        limit,
        conn.get("database") or None,
        tls_ca=tls_ca,
    )
    try:
        with client.cursor() as cursor:
            cursor.execute("SELECT VERSION()")
            row = cursor.fetchone()
    finally:
        client.close()
    return str(row[0]) if row else ""


async def server_version(conn: Mapping[str, Any], limit: float, *, tls_ca: str | None = None) -> str:
    """One attempt as the application account, on its database."""
    try:
        return await asyncio.wait_for(
            asyncio.to_thread(_version_sync, conn, limit, tls_ca), timeout=limit * 2
        )
    except (pymysql.MySQLError, OSError, TimeoutError) as exc:
        raise EngineUnavailable(describe(exc)) from None


def _probe_sync(host: str, port: int, password: str, limit: float, tls_ca: str | None) -> dict[str, Any]:
    try:
        client = _connect(host, port, MONITOR_ACCOUNT, password, limit, tls_ca=tls_ca)
    except pymysql.err.OperationalError as exc:
        if exc.args[0] != _ACCESS_DENIED:
            raise
        client = _connect(host, port, LEGACY_ADMIN, password, limit, tls_ca=tls_ca)
    try:
        with client.cursor() as cur:
            cur.execute(
                "SHOW GLOBAL STATUS WHERE Variable_name IN"
                " ('Uptime', 'Threads_connected', 'Slow_queries', 'Max_used_connections')"
            )
            status = {str(name).lower(): int(value) for name, value in cur.fetchall()}
            cur.execute("SELECT @@max_connections, VERSION()")
            row = cur.fetchone()
            assert row is not None
    finally:
        client.close()
    return {
        "uptime_seconds": status.get("uptime"),
        "threads_connected": status.get("threads_connected"),
        "connections": status.get("threads_connected"),
        "max_connections": int(row[0]),
        "max_used_connections": status.get("max_used_connections"),
        "slow_queries": status.get("slow_queries"),
        "version": str(row[1]),
    }


async def probe(
    host: str, port: int, password: str, limit: float, *, tls_ca: str | None = None
) -> ProbeResult:
    try:
        metrics = await asyncio.wait_for(
            # The driver's own timeouts (`limit` each) end the thread; this bounds the wait.
            asyncio.to_thread(_probe_sync, host, port, password, limit, tls_ca),
            timeout=limit + 1,
        )
    except (pymysql.MySQLError, OSError, TimeoutError, ValueError) as exc:
        return ProbeResult(False, error=f"mysql: {describe(exc)}")
    return ProbeResult(True, metrics)
