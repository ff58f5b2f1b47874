"""The `redis` engine: settings (maxmemory in bytes or units), sizing, URIs, and how settings
and passwords change on a running instance (every setting live; a grace period for passwords)."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from typing import Any, ClassVar, Literal
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, field_validator

from . import redis_client
from .base import (
    CA_FILE,
    CONNECTIONS,
    LIMIT_HELP,
    UNIT,
    Credentials,
    Engine,
    EngineSettings,
    Gauge,
    Rekey,
    Restart,
    SettingsChange,
    TlsDetails,
    cpus_for_memory,
    tls_connection,
    tls_mode,
)
from .probe import ProbeResult
from .quantity import split_quantity

MIB = 1024 * 1024
_UNITS = {"": 1, "b": 1, "k": 1000, "kb": 1024, "m": 1000**2, "mb": MIB, "g": 1000**3, "gb": 1024**3}
MIN_MAXMEMORY = 8 * MIB
MAX_MAXMEMORY = 64 * 1024 * MIB

Policy = Literal[
    "noeviction",
    "allkeys-lru",
    "allkeys-lfu",
    "allkeys-random",
    "volatile-lru",
    "volatile-lfu",
    "volatile-random",
    "volatile-ttl",
]


def parse_size(value: int | str) -> int:
    """Bytes from an int or a Redis-style size ("64mb", "1gb", "100000"); units as redis.conf reads them."""
    if isinstance(value, bool):
        raise ValueError("must be a size such as 268435456, '256mb' or '1gb'")
    if isinstance(value, int):
        return value
    parts = split_quantity(value)
    if parts is None or parts[1].lower() not in _UNITS:
        raise ValueError("must be a size such as 268435456, '256mb' or '1gb'")
    return int(parts[0]) * _UNITS[parts[1].lower()]


class RedisSettings(EngineSettings):
    model_config = ConfigDict(extra="forbid")
    # All CONFIG SET-able; the container's memory limit follows maxmemory through Docker's
    # update (roles/redis/tasks/reconfigure.yml orders the two).
    restart: ClassVar[Mapping[str, Restart]] = {
        "maxmemory": Restart.NEVER,
        "maxmemory_policy": Restart.NEVER,
        "appendonly": Restart.NEVER,
        "appendfsync": Restart.NEVER,
        "maxclients": Restart.NEVER,
        "tls": Restart.NEVER,  # CONFIG SET port/tls-port switches the listener both ways
    }

    maxmemory: int = Field(
        default=128 * MIB,
        description="bytes, or a size such as '256mb' or '1gb' (stored as bytes)",
        json_schema_extra={"examples": [268435456, "256mb", "1gb"], UNIT: "bytes"},
    )
    maxmemory_policy: Policy = "noeviction"
    appendonly: StrictBool = False
    appendfsync: Literal["always", "everysec", "no"] = "everysec"
    maxclients: StrictInt = Field(default=10000, ge=1, le=50000)
    # Redis serves TLS or plain on its one port, never both: no optional. required: TLS on
    # the instance's port, the plain port closed. A create without it gets
    # DBVEND_TLS_DEFAULT; a record made before TLS existed reads as off.
    tls: Literal["off", "required"] = Field(
        default="off",
        description="off | required (Redis has no optional TLS; the CA: GET /api/v1/tls/ca.pem)",
    )

    @field_validator("maxmemory", mode="before")
    @classmethod
    def _size(cls, value: object) -> int:
        if not isinstance(value, int | str):
            raise ValueError("must be a size such as 268435456, '256mb' or '1gb'")
        size = parse_size(value)
        if not MIN_MAXMEMORY <= size <= MAX_MAXMEMORY:
            raise ValueError(f"must be between {MIN_MAXMEMORY // MIB}mb and {MAX_MAXMEMORY // MIB // 1024}gb")
        return size


class RedisConnection(BaseModel):
    model_config = ConfigDict(extra="forbid")

    host: str
    port: int
    username: str
    password: str
    uri: str = Field(examples=["rediss://u_k2j4:...@127.0.0.1:20002/0"])
    cli: str
    tls: TlsDetails


def _sha256(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def redis_uri(user: str, password: str, address: str, port: int, tls: bool) -> str:
    """rediss:// over TLS: clients verify the certificate and the host name by default."""
    scheme = "rediss" if tls else "redis"
    return f"{scheme}://{quote(user)}:{quote(password)}@{address}:{port}/0"


def container_memory_mb(maxmemory: int) -> int:
    """Headroom above maxmemory for fragmentation, buffers and fork-on-save."""
    headroom = max(64 * MIB, maxmemory // 4)
    return math.ceil((maxmemory + headroom) / MIB)


class RedisEngine(Engine[RedisSettings]):
    name: ClassVar[str] = "redis"
    default_port: ClassVar[int] = 6379
    settings_model = RedisSettings
    admin_username: ClassVar[str] = redis_client.ADMIN_ACCOUNT
    connection_model: ClassVar[type[BaseModel]] = RedisConnection
    ratio_metrics: ClassVar[dict[str, tuple[str, str, str]]] = {
        "redis_memory": ("used_memory", "maxmemory", "used_memory / maxmemory"),
        "redis_clients": ("connected_clients", "maxclients", "connected_clients / maxclients"),
    }
    counter_metrics: ClassVar[dict[str, str]] = {
        "evicted_keys": "keys evicted since the previous round",
        "rejected_connections": "connections rejected since the previous round",
    }
    gauges: ClassVar[tuple[Gauge, ...]] = (
        CONNECTIONS,
        Gauge("dbvend_instance_max_connections", LIMIT_HELP, "maxclients"),
        Gauge("dbvend_instance_engine_memory_bytes", "Redis used_memory.", "used_memory"),
        Gauge("dbvend_instance_engine_maxmemory_bytes", "Redis maxmemory.", "maxmemory"),
    )
    memory_metrics: ClassVar[tuple[str, str] | None] = ("used_memory", "maxmemory")
    connection_limit_metric: ClassVar[str | None] = "maxclients"
    # The RDB file redis-server writes (roles/redis/tasks/backup.yml).
    backup_format: ClassVar[str] = "rdb"
    backup_media_type: ClassVar[str] = "application/octet-stream"
    # Redis users can hold several passwords at once (ACL SETUSER #<hash> #<hash>).
    password_grace: ClassVar[bool] = True

    def memory_mb(self, settings: RedisSettings) -> int:
        return container_memory_mb(settings.maxmemory)

    def role_vars(self, settings: RedisSettings, credentials: Credentials) -> dict[str, Any]:
        return {
            "redis_maxmemory": settings.maxmemory,
            "redis_maxmemory_policy": settings.maxmemory_policy,
            "redis_appendonly": settings.appendonly,
            "redis_appendfsync": settings.appendfsync,
            "redis_maxclients": settings.maxclients,
            "redis_memory_mb": self.memory_mb(settings),
            "redis_cpus": cpus_for_memory(self.memory_mb(settings)),
            "redis_username": credentials.username,
            # Redis ACLs take SHA-256 hex digests (`#<hash>`).
            "redis_password_hash": _sha256(credentials.password),
            "redis_admin_username": self.admin_username,
            "redis_admin_password_hash": _sha256(credentials.admin_password),
            # The certificate, key and CA bundle go as tls_cert_pem/tls_key_pem/tls_ca_pem
            # when one is shipped (service/operations/kinds/certificates.py).
            "redis_tls": settings.tls,
        }

    def slot_settings(self, memory_mb: int, *, tls: str = "off") -> RedisSettings | None:
        """The defaults with the maxmemory whose container is exactly memory_mb (below
        320 MB the headroom is 64 MiB, above it a quarter of maxmemory)."""
        for maxmemory in ((memory_mb - 64) * MIB, memory_mb * 4 // 5 * MIB):
            if MIN_MAXMEMORY <= maxmemory <= MAX_MAXMEMORY and container_memory_mb(maxmemory) == memory_mb:
                return RedisSettings.model_validate({"maxmemory": maxmemory, "tls": tls})
        return None

    async def rekey(self, target: Rekey[RedisSettings], limit: float) -> str | None:
        settings = target.settings
        creds = target.credentials
        return await redis_client.rekey(
            target.address,
            target.port,
            creds.admin_password,
            username=creds.username,
            password=creds.password,
            password_hash=_sha256(creds.password),
            config={
                "maxmemory": str(settings.maxmemory),
                "maxmemory-policy": settings.maxmemory_policy,
                "maxclients": str(settings.maxclients),
                "appendonly": "yes" if settings.appendonly else "no",
                "appendfsync": settings.appendfsync,
            },
            limit=limit,
            tls_ca=target.tls_ca,
        )

    def reconfigure_vars(self, change: SettingsChange) -> dict[str, Any]:
        """Nothing beyond role_vars(change.after): the role compares each live setting with what
        the server runs and reads the container's current limits from Docker itself, so a re-run
        after a crash converges the same way."""
        return {}

    def rotate_vars(self, old: Credentials, new: Credentials, *, grace_seconds: int) -> dict[str, Any]:
        """With a grace period the old password's hash stays next to the new one (the worker
        runs rotate again without it when the period ends); without, it is dropped at once and
        the account's connections end."""
        if grace_seconds < 0:
            raise ValueError("grace_seconds must not be negative")
        keep = grace_seconds > 0 and old.password != new.password
        return {"redis_password_grace_hash": _sha256(old.password) if keep else ""}

    def connection(
        self, settings: RedisSettings, credentials: Credentials, address: str, port: int
    ) -> dict[str, Any]:
        user, password = credentials.username, credentials.password
        tls = tls_mode(settings) != "off"
        verify = f" --tls --cacert {CA_FILE}" if tls else ""
        return {
            "host": address,
            "port": port,
            "username": user,
            "password": password,
            "uri": redis_uri(user, password, address, port, tls),
            "cli": f"redis-cli -h {address} -p {port}{verify} --user {user} --pass {password}",
            "tls": tls_connection(settings, address),
        }

    def credential_vars(self, username: str, password: str | None) -> dict[str, Any]:
        return {
            "redis_credential_username": username,
            "redis_credential_password_hash": _sha256(password) if password is not None else "",
        }

    def credential_connection(
        self, settings: RedisSettings, username: str, password: str, address: str, port: int
    ) -> dict[str, Any]:
        return {
            "uri": redis_uri(username, password, address, port, tls_mode(settings) != "off"),
            "host": address,
            "port": port,
            "username": username,
            "password": password,
            "tls": tls_connection(settings, address),
        }

    async def server_version(
        self, connection: Mapping[str, Any], limit: float, *, tls_ca: str | None = None
    ) -> str:
        return await redis_client.server_version(connection, limit, tls_ca=tls_ca)

    async def probe(
        self, address: str, port: int, admin_password: str, limit: float, *, tls_ca: str | None = None
    ) -> ProbeResult:
        return await redis_client.probe(address, port, admin_password, limit, tls_ca=tls_ca)
