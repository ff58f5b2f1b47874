"""The `mysql` engine (served by MariaDB 10.11 here): settings, how they may change, sizing,
URIs."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from typing import Any, ClassVar, Literal
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator

from ..errors import FieldError, SettingsError
from . import mysql_client, mysql_rekey
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
    RekeyFailed,
    Restart,
    SettingsChange,
    TlsDetails,
    cpus_for_memory,
    tls_connection,
    tls_mode,
)
from .mysql_charsets import CHARSETS
from .probe import ProbeResult

# MariaDB 10.11 reads `utf8` as utf8mb3 (old_mode UTF8_IS_UTF8MB3).
_CHARSET_ALIASES = {"utf8": "utf8mb3"}
# The same rule is enforced by roles/mysql and the image entrypoint (defence in depth):
# 1-64 ASCII letters, digits or underscores, matched over the whole string, and none of
# the names MariaDB treats specially, compared case-insensitively.
_DATABASE_NAME = re.compile(r"[A-Za-z0-9_]{1,64}")
RESERVED_DATABASES = frozenset({"mysql", "information_schema", "performance_schema", "sys"})
_LEGACY_PREFIX = "#mysql50#"  # MariaDB maps "#mysql50#x" onto the file name "x"
BINLOG_FORMATS = ("ROW", "STATEMENT", "MIXED")
# A pool slot has no database of a tenant; role_vars still needs a valid name (the role
# makes none for a slot, and a claim drops every non-system database anyway).
SLOT_DATABASE = "dbvend_slot"
# Settings a claim makes rather than changes: it creates the database with them.
_CLAIM_MADE = frozenset({"database", "charset", "collation"})
CONVERT_NEEDED = (
    'changing the character set of an existing database needs "convert": true (ALTER DATABASE); '
    "existing tables keep theirs"
)


def reserved_database(name: str) -> bool:
    folded = name.strip().lower()  # what a shell or an entrypoint that trims would see
    return folded in RESERVED_DATABASES or folded.startswith(_LEGACY_PREFIX)


class MysqlSettings(EngineSettings):
    model_config = ConfigDict(extra="forbid", strict=True)
    # What MariaDB 10.11 changes on a running server: max_connections, innodb_buffer_pool_size
    # (memory_mb: resized online, in chunks), binlog_format, binlog_expire_logs_seconds,
    # character_set_server/collation_server are dynamic (SET GLOBAL; the memory limit through
    # Docker's update, ALTER DATABASE with convert). log_bin is read at start only: switching
    # binary logging on or off (binlog_format between null and a format) takes one restart.
    restart: ClassVar[Mapping[str, Restart]] = {
        "charset": Restart.NEVER,
        "collation": Restart.NEVER,
        "memory_mb": Restart.NEVER,
        "max_connections": Restart.NEVER,
        "database": Restart.NEVER,
        "binlog_format": Restart.NULL_TOGGLED,
        "binlog_expire_logs_seconds": Restart.NEVER,
        # mariadbd loads its first certificate at start: off <-> on takes a restart;
        # optional <-> required is require_secure_transport (SET GLOBAL).
        "tls": Restart.OFF_TOGGLED,
    }
    create_only: ClassVar[frozenset[str]] = frozenset({"database"})

    charset: str = Field(default="utf8mb4", max_length=32)
    collation: str | None = Field(default=None, max_length=64)
    memory_mb: int = Field(
        default=256, ge=192, le=65536, description="the container's memory", json_schema_extra={UNIT: "MiB"}
    )
    max_connections: int = Field(default=100, ge=10, le=10000)
    database: str | None = Field(
        default=None, max_length=64, description="database name; default from the instance name"
    )
    binlog_format: str | None = Field(
        default=None,
        max_length=16,
        description="ROW, STATEMENT or MIXED: binary logging on in that format; null: off",
    )
    binlog_expire_logs_seconds: int = Field(
        default=604800, ge=3600, le=7776000, json_schema_extra={UNIT: "seconds"}
    )
    # off: plain only; optional: TLS offered, plain taken; required: require_secure_transport
    # (a plain client is refused). A create without it gets DBVEND_TLS_DEFAULT; a record
    # made before TLS existed reads as off.
    tls: Literal["off", "optional", "required"] = Field(
        default="off",
        description="off | optional | required (TLS on the instance's port; the CA: GET /api/v1/tls/ca.pem)",
    )

    @field_validator("binlog_format")
    @classmethod
    def _binlog_format(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if value.upper() not in BINLOG_FORMATS:
            raise ValueError(f"must be one of {', '.join(BINLOG_FORMATS)} (or null: no binary log)")
        return value.upper()

    @field_validator("charset")
    @classmethod
    def _known_charset(cls, value: str) -> str:
        value = _CHARSET_ALIASES.get(value.lower(), value.lower())
        if value not in CHARSETS:
            raise ValueError(
                f"unknown character set {value!r}; the server has: {', '.join(sorted(CHARSETS))}"
            )
        return value

    @field_validator("database")
    @classmethod
    def _database_name(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if reserved_database(value):
            raise ValueError(f"{value!r} is a system database")
        if not _DATABASE_NAME.fullmatch(value):
            raise ValueError("must be 1-64 letters, digits or underscores")
        return value

    @field_validator("collation")
    @classmethod
    def _collation_of_charset(cls, value: str | None, info: ValidationInfo) -> str | None:
        charset = info.data.get("charset")
        if value is None or charset is None:
            return value  # charset already failed, or the default is filled in later
        if value.lower() not in CHARSETS[charset][1]:
            raise ValueError(f"{value!r} does not belong to character set {charset!r}")
        return value.lower()


def mysql_native_password(password: str) -> str:
    """What MariaDB stores for a mysql_native_password account (SELECT PASSWORD(...)); the
    role's dbvend_mysql_native_password filter computes the same for direct runs."""
    inner = hashlib.sha1(password.encode()).digest()  # noqa: S324 - MariaDB's scheme, not ours
    return "*" + hashlib.sha1(inner).hexdigest().upper()  # noqa: S324


def buffer_pool_bytes(memory_mb: int) -> int:
    """innodb_buffer_pool_size for a container of memory_mb: half of it, 32 MiB at least
    (templates/dbvend.cnf.j2 and vars/main.yml __mysql_want say the same). The one server
    setting that follows the container's size; dynamic in MariaDB 10.11 (SET GLOBAL resizes
    it online)."""
    return max(32, memory_mb // 2) * 1024 * 1024


def database_from_name(name: str) -> str:
    """An instance named "mysql" or "performance-schema" must not get that database."""
    database = re.sub(r"[^A-Za-z0-9_]", "_", name)[:64] or "db"
    return f"{database[:61]}_db" if reserved_database(database) else database


class MysqlConnection(BaseModel):
    model_config = ConfigDict(extra="forbid")

    host: str
    port: int
    database: str
    username: str
    password: str
    uri: str = Field(
        examples=["mysql://u_k2j4:...@127.0.0.1:20001/orders?ssl-mode=VERIFY_IDENTITY&ssl-ca=dbvend-ca.pem"]
    )
    cli: str
    tls: TlsDetails


def mysql_uri(user: str, password: str, address: str, port: int, database: str, tls: str) -> str:
    """MySQL's URI form (mysqlsh, Connector/J's ssl-mode spelling): with TLS, verify the
    certificate and the host name against the CA bundle."""
    uri = f"mysql://{quote(user)}:{quote(password)}@{address}:{port}/{database}"
    return uri + (f"?ssl-mode=VERIFY_IDENTITY&ssl-ca={CA_FILE}" if tls != "off" else "")


def _charset_of(value: object) -> object:
    """A raw charset as the model will store it (to tell whether a change names a new one)."""
    if isinstance(value, str):
        return _CHARSET_ALIASES.get(value.lower(), value.lower())
    return value


class MysqlEngine(Engine[MysqlSettings]):
    name: ClassVar[str] = "mysql"
    default_port: ClassVar[int] = 3306
    settings_model = MysqlSettings
    connection_model: ClassVar[type[BaseModel]] = MysqlConnection
    ratio_metrics: ClassVar[dict[str, tuple[str, str, str]]] = {
        "mysql_connections": ("threads_connected", "max_connections", "Threads_connected / max_connections"),
    }
    counter_metrics: ClassVar[dict[str, str]] = {"slow_queries": "slow queries since the previous round"}
    gauges: ClassVar[tuple[Gauge, ...]] = (
        CONNECTIONS,
        Gauge("dbvend_instance_max_connections", LIMIT_HELP, "max_connections"),
    )
    connection_limit_metric: ClassVar[str | None] = "max_connections"
    # mariadb-dump's SQL, gzip'd (roles/mysql/tasks/backup.yml).
    backup_format: ClassVar[str] = "sql.gz"
    backup_media_type: ClassVar[str] = "application/gzip"
    # MariaDB has no dual passwords (MySQL 8's RETAIN CURRENT PASSWORD).
    password_grace: ClassVar[bool] = False

    def merge_change(self, current: MysqlSettings, raw: Mapping[str, Any]) -> dict[str, Any]:
        merged = super().merge_change(current, raw)
        # A new charset alone takes that charset's default collation, as on create.
        if "collation" not in raw and "charset" in raw and _charset_of(raw["charset"]) != current.charset:
            merged["collation"] = None
        return merged

    def check_change(self, before: MysqlSettings, after: MysqlSettings, *, convert: bool) -> None:
        errors = []
        if after.database != before.database:
            errors.append(
                FieldError("settings.database", "the database of an existing instance cannot be renamed")
            )
        if not convert:
            for name in ("charset", "collation"):
                if getattr(after, name) != getattr(before, name):
                    errors.append(FieldError(f"settings.{name}", CONVERT_NEEDED))
        if errors:
            raise SettingsError(errors)

    def reconfigure_vars(self, change: SettingsChange) -> dict[str, Any]:
        return {"mysql_convert": change.convert}

    def rotate_vars(self, old: Credentials, new: Credentials, *, grace_seconds: int) -> dict[str, Any]:
        if grace_seconds > 0:
            raise SettingsError(
                [
                    FieldError(
                        "grace_seconds",
                        "MariaDB has no dual passwords: the old password stops working at once "
                        "(its open sessions are ended)",
                    )
                ]
            )
        return {"mysql_password_grace_seconds": 0}

    def complete(self, settings: MysqlSettings, *, instance_name: str) -> MysqlSettings:
        update: dict[str, str] = {}
        if settings.collation is None:
            update["collation"] = CHARSETS[settings.charset][0]
        if settings.database is None:
            update["database"] = database_from_name(instance_name)
        return settings.model_copy(update=update)

    def memory_mb(self, settings: MysqlSettings) -> int:
        return settings.memory_mb

    def role_vars(self, settings: MysqlSettings, credentials: Credentials) -> dict[str, Any]:
        return {
            "mysql_charset": settings.charset,
            "mysql_collation": settings.collation,
            "mysql_memory_mb": settings.memory_mb,
            "mysql_max_connections": settings.max_connections,
            "mysql_database": settings.database,
            "mysql_binlog_format": settings.binlog_format,
            "mysql_binlog_expire_logs_seconds": settings.binlog_expire_logs_seconds,
            "mysql_cpus": cpus_for_memory(settings.memory_mb),
            "mysql_username": credentials.username,
            "mysql_password_hash": mysql_native_password(credentials.password),
            # root@localhost and the network monitor account (dbvend_monitor) share it.
            "mysql_root_password_hash": mysql_native_password(credentials.admin_password),
            # The certificate, key and CA bundle go as tls_cert_pem/tls_key_pem/tls_ca_pem
            # when one is shipped (service/operations/kinds/certificates.py).
            "mysql_tls": settings.tls,
        }

    # -- the warm pool ---------------------------------------------------------------------
    def slot_settings(self, memory_mb: int, *, tls: str = "off") -> MysqlSettings | None:
        try:
            settings = MysqlSettings.model_validate(
                {"memory_mb": memory_mb, "database": SLOT_DATABASE, "tls": tls}
            )
        except ValidationError:
            return None  # outside the API's memory range: no instance could claim it
        return self.complete(settings, instance_name=SLOT_DATABASE)

    def claimable(self, slot: MysqlSettings, wanted: MysqlSettings) -> bool:
        """The same TLS mode (the slot's certificate is the instance's) and a container at least
        as big (the claim shrinks innodb_buffer_pool_size live, converge.yml the container's
        limit); binary logging on or off alike (log-bin is read at start); the rest a claim
        makes (database, its charset) or sets live (SET GLOBAL)."""
        if self.memory_mb(slot) < self.memory_mb(wanted) or slot.tls != wanted.tls:
            return False
        return all(
            name in _CLAIM_MADE or self.applies_live(name, slot, wanted)
            for name in type(wanted).model_fields
            if getattr(slot, name) != getattr(wanted, name)
        )

    async def rekey(self, target: Rekey[MysqlSettings], limit: float) -> str | None:
        settings = target.settings
        if settings.database is None or settings.collation is None:
            raise RekeyFailed("the instance's settings are not complete mysql settings")
        if not self.claimable(target.slot_settings, settings):
            raise RekeyFailed("the slot cannot be claimed with these settings (size or binary logging)")
        tenant = mysql_rekey.Tenant(
            database=settings.database,
            charset=settings.charset,
            collation=settings.collation,
            username=target.credentials.username,
            password_hash=mysql_native_password(target.credentials.password),
            max_connections=settings.max_connections,
            binlog_format=settings.binlog_format,
            binlog_expire_logs_seconds=settings.binlog_expire_logs_seconds,
            buffer_pool_bytes=(
                buffer_pool_bytes(settings.memory_mb)
                if settings.memory_mb != target.slot_settings.memory_mb
                else None
            ),
        )
        await mysql_rekey.rekey(target, tenant, limit, tls_ca=target.tls_ca)
        return None

    def connection(
        self, settings: MysqlSettings, credentials: Credentials, address: str, port: int
    ) -> dict[str, Any]:
        user, password, database = credentials.username, credentials.password, settings.database or ""
        tls = tls_mode(settings)
        verify = f" --ssl-ca={CA_FILE} --ssl-verify-server-cert" if tls != "off" else ""
        return {
            "host": address,
            "port": port,
            "database": database,
            "username": user,
            "password": password,
            "uri": mysql_uri(user, password, address, port, database, tls),
            "cli": f"mysql -h {address} -P {port} -u {user} -p{password}{verify} {database}",
            "tls": tls_connection(settings, address),
        }

    def credential_vars(self, username: str, password: str | None) -> dict[str, Any]:
        return {
            "mysql_credential_username": username,
            "mysql_credential_password_hash": mysql_native_password(password) if password is not None else "",
        }

    def credential_connection(
        self, settings: MysqlSettings, username: str, password: str, address: str, port: int
    ) -> dict[str, Any]:
        database = settings.database or ""
        return {
            "uri": mysql_uri(username, password, address, port, database, tls_mode(settings)),
            "host": address,
            "port": port,
            "username": username,
            "password": password,
            "database": database,
            "tls": tls_connection(settings, address),
        }

    def slot_connection(
        self, settings: MysqlSettings, credentials: Credentials, address: str, port: int
    ) -> dict[str, Any]:
        # A slot has no application account (roles/mysql dbvend_pool_slot): the claim account
        # with the admin secret is what a claim will connect as, so it is what must answer.
        return {
            "host": address,
            "port": port,
            "database": "",
            "username": mysql_rekey.CLAIM_ACCOUNT,
            "password": credentials.admin_password,
        }

    async def server_version(
        self, connection: Mapping[str, Any], limit: float, *, tls_ca: str | None = None
    ) -> str:
        return await mysql_client.server_version(connection, limit, tls_ca=tls_ca)

    async def probe(
        self, address: str, port: int, admin_password: str, limit: float, *, tls_ca: str | None = None
    ) -> ProbeResult:
        return await mysql_client.probe(address, port, admin_password, limit, tls_ca=tls_ca)
