"""Talking to a Redis server over its protocol (redis.asyncio): the application account's
readiness, and the admin account's probe.

tls_ca (the CA bundle, PEM): TLS with the certificate and the host name checked, as users
are told to (an instance with tls=required serves nothing else)."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.client import Pipeline
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError, ResponseError

from ..tls import client_context
from .base import RekeyFailed
from .probe import EngineUnavailable, ProbeResult, as_int, describe

ADMIN_ACCOUNT = "dbvend-admin"
# dbvend's own accounts (the admin, the role's host-local one) and Redis's `default`,
# which cannot be deleted: everything else on a claimed slot is a leftover and goes.
_KEEP = frozenset({ADMIN_ACCOUNT, "dbvend-local", "default"})
# The application account's rule, shared with roles/redis (templates/users.acl.j2).
APP_ACL_RULES = Path(__file__).resolve().parents[2] / "roles" / "redis" / "files" / "app-acl.rules"


def app_acl() -> list[str]:
    return APP_ACL_RULES.read_text().split()


async def rekey(
    host: str,
    port: int,
    admin_password: str,
    *,
    username: str,
    password: str,
    password_hash: str,
    config: Mapping[str, str],
    limit: float,
    tls_ca: str | None = None,
) -> str:
    """A claimed slot becomes its tenant's: no data, exactly one application account (from
    a SHA-256 hash), the settings applied live, and both saved to the server's own files
    (users.acl, redis.conf) so a restart keeps them. Every step converges on a retry.
    Then the tenant's account logs in on the same connection and reads the server's
    version, which is returned: the readiness check without a second TLS handshake."""
    client = _client(host, port, ADMIN_ACCOUNT, admin_password, limit, tls_ca=tls_ca)
    try:
        steps = _rekey(client, username, password, password_hash, config)
        return await asyncio.wait_for(steps, timeout=limit)
    except (RedisError, OSError, TimeoutError, RekeyFailed) as exc:
        raise RekeyFailed(f"redis on {host}:{port}: {describe(exc)}") from None
    finally:
        await client.aclose()


async def _rekey(
    client: aioredis.Redis, username: str, password: str, password_hash: str, config: Mapping[str, str]
) -> str:
    # Two round trips (pipelines on one connection, in order), not one per command: over
    # TLS each round trip costs a record each way, and a claim is on the create's clock.
    wipe = client.pipeline(transaction=False)
    wipe.execute_command("FLUSHALL", "SYNC")
    wipe.execute_command("SCRIPT", "FLUSH", "SYNC")
    wipe.execute_command("FUNCTION", "FLUSH", "SYNC")
    wipe.execute_command("ACL", "USERS")
    *_, listed = await _run(wipe)
    users = [u.decode() if isinstance(u, bytes) else str(u) for u in listed]
    stale = [u for u in users if u not in _KEEP and u != username]
    tenant = client.pipeline(transaction=False)
    if stale:
        tenant.execute_command("ACL", "DELUSER", *stale)
    tenant.execute_command("ACL", "SETUSER", "default", "reset")
    # Not `reset` (it also sets sanitize-payload): the account must equal the role's line.
    clear = ("resetpass", "resetkeys", "resetchannels", "clearselectors", "-@all")
    rules = (*clear, "on", f"#{password_hash}", "~*", "&*", *app_acl())
    tenant.execute_command("ACL", "SETUSER", username, *rules)
    for key, value in config.items():
        tenant.execute_command("CONFIG", "SET", key, value)
    # Into users.acl and redis.conf (the role's files; converge writes them in its own form).
    tenant.execute_command("ACL", "SAVE")
    tenant.execute_command("CONFIG", "REWRITE")
    # Last, on the same connection: the tenant's account logs in and reads the version (a
    # reconnect, on a retry, replays the whole pipeline, so the admin never answers INFO in
    # the tenant's place).
    tenant.execute_command("AUTH", username, password)
    tenant.info("server")
    *_, info = await _run(tenant)
    return str(info.get("redis_version", ""))


async def _run(pipeline: Pipeline) -> list[Any]:
    """The replies, or RekeyFailed naming the first failed command by its name only:
    redis-py's own pipeline error quotes the whole command, password hash and password
    included, and this message reaches the log and the slot's broken reason."""
    # The first two words: a command and its subcommand (or AUTH's username), no secret.
    names = [" ".join(str(a) for a in args[:2]) for args, _ in pipeline.command_stack]
    replies: list[Any] = await pipeline.execute(raise_on_error=False)
    for name, reply in zip(names, replies, strict=True):
        if isinstance(reply, ResponseError):
            reason = str(reply.args[0]) if reply.args else type(reply).__name__
            raise RekeyFailed(f"{name}: {reason[:200]}")
    return replies


class _VerifiedTls(aioredis.SSLConnection):
    """redis-py's TLS connection, on the shared context of service/tls (the CA bundle only,
    certificate and host name checked, TLS 1.2+). redis-py itself builds a context for each
    new connection with ssl.create_default_context(), which loads the system's whole trust
    store before adding the bundle: tens of milliseconds per connection, hundreds on a busy
    host, on every claim, readiness check and probe."""

    def _connection_arguments(self) -> Mapping[str, Any]:
        arguments = dict(aioredis.Connection._connection_arguments(self))
        arguments["ssl"] = client_context(str(self.ssl_context.ca_data))
        return arguments


def _client(
    host: str,
    port: int,
    username: str,
    password: str,
    limit: float,
    *,
    retry: bool = True,
    tls_ca: str | None = None,
) -> aioredis.Redis:
    """retry=False: one attempt (redis-py retries a timeout three times by default, which
    makes a hung server look alive for several times `limit`)."""
    tls: dict[str, Any] = (
        {
            "ssl": True,
            "ssl_ca_data": tls_ca,
            "ssl_cert_reqs": "required",
            "ssl_check_hostname": True,
            "ssl_min_version": ssl.TLSVersion.TLSv1_2,
        }
        if tls_ca
        else {}
    )
    client = aioredis.Redis(
        host=host,
        port=port,
        username=username,
        password=password,
        socket_timeout=limit,
        socket_connect_timeout=limit,
        # No CLIENT SETINFO after AUTH: a round trip less per connection (each probe and claim).
        driver_info=None,
        **tls,
    )
    if tls_ca:  # no connection is made yet: every one will be a _VerifiedTls
        client.connection_pool.connection_class = _VerifiedTls
    if not retry:
        client.set_retry(Retry(NoBackoff(), 0))
    return client


async def server_version(conn: Mapping[str, Any], limit: float, *, tls_ca: str | None = None) -> str:
    """One attempt as the application account."""
    client = _client(
        conn["host"], int(conn["port"]), conn["username"], conn["password"], limit, tls_ca=tls_ca
    )
    try:
        info: dict[str, Any] = await asyncio.wait_for(client.info("server"), timeout=limit * 2)
    except (RedisError, OSError, TimeoutError) as exc:
        raise EngineUnavailable(describe(exc)) from None
    finally:
        await client.aclose()
    return str(info.get("redis_version", ""))


async def probe(
    host: str, port: int, password: str, limit: float, *, tls_ca: str | None = None
) -> ProbeResult:
    """One attempt, answered or given up within `limit` seconds."""
    client = _client(host, port, ADMIN_ACCOUNT, password, limit, retry=False, tls_ca=tls_ca)
    try:
        info: dict[str, Any] = await asyncio.wait_for(
            client.info("server", "clients", "memory", "stats"), timeout=limit
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
