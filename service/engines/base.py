"""What every engine tells dbvend: its settings and how they may change, its memory, its role
variables, its URI."""

from __future__ import annotations

import math
import secrets
import string
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, ClassVar, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..errors import FieldError, SettingsError
from .probe import ProbeResult

_ALPHANUM = string.ascii_letters + string.digits
_LOWER = string.ascii_lowercase + string.digits


def random_password(length: int = 32) -> str:
    """32 alphanumerics carry about 190 bits and need no quoting in URIs or shells."""
    return "".join(secrets.choice(_ALPHANUM) for _ in range(length))


def cpus_for_memory(memory_mb: int) -> float:
    """Container CPU limit: 1 CPU per GiB of memory, in steps of 0.5, at least 0.5 (the roles'
    defaults say the same; they cap it with the host's dbvend_max_cpus)."""
    return max(0.5, math.ceil(memory_mb / 512) / 2)


def random_username() -> str:
    return "u_" + "".join(secrets.choice(_LOWER) for _ in range(8))


def random_credential_username() -> str:
    """An extra credential's user (bind): never the caller's text, never an app user's shape."""
    return "b_" + "".join(secrets.choice(_LOWER) for _ in range(12))


@dataclass(frozen=True)
class Credentials:
    """What the user connects with, plus the admin password dbvend keeps to itself."""

    username: str
    password: str
    admin_password: str

    def secrets(self) -> dict[str, str]:
        return {"password": self.password, "admin_password": self.admin_password}

    @classmethod
    def from_secrets(cls, username: str, secrets: Mapping[str, str]) -> Credentials:
        """The inverse of secrets(): rebuild them from the decrypted store."""
        return cls(username, secrets["password"], secrets["admin_password"])


def field_path(parts: Iterable[str | int]) -> str:
    """ "settings.database" from its parts. A client's own dict keys end up in it, so each
    part is kept short and printable."""
    return ".".join(_field_part(part) for part in parts)


def _field_part(part: str | int) -> str:
    text = str(part)
    if not text.isprintable():
        text = text.encode("unicode_escape", "backslashreplace").decode("ascii")
    return text if len(text) <= 64 else text[:61] + "..."


def pydantic_errors(exc: ValidationError, prefix: str) -> list[FieldError]:
    errors = []
    for err in exc.errors():
        loc = field_path(err["loc"])
        message = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            message = "unknown setting"
        field = f"{prefix}.{loc}" if prefix and loc else (loc or prefix or "body")
        errors.append(FieldError(field, message))
    return errors


class Restart(StrEnum):
    """What a change of one setting costs the running server (each settings model's
    `restart` map names one for every field; the JSON schemas carry it, restart_schema)."""

    NEVER = "never"  # applied live (SET GLOBAL, CONFIG SET, Docker's update, ALTER DATABASE)
    ALWAYS = "always"  # one restart of the server
    NULL_TOGGLED = "null_toggled"  # a restart only when it changes between null and a value
    OFF_TOGGLED = "off_toggled"  # a restart only when it changes between "off" and another value


# The annotations every settings property carries in the settings schemas (OpenAPI's
# MysqlSettings/RedisSettings, GET /plans' parameters_schema): whether a change of it can
# restart the server, and, where only some changes do, which (a Restart value).
RESTART_REQUIRED = "x-restart-required"
RESTART_WHEN = "x-restart-when"
# A setting that is chosen at create and never changes after (the API refuses a change).
CREATE_ONLY = "x-create-only"
# The unit of a number the API keeps as is (bytes, MiB, seconds): clients show it in human units.
UNIT = "x-unit"


def restart_schema(schema: dict[str, Any], model: type[BaseModel]) -> None:
    """pydantic's json_schema_extra of a settings model: each property annotated from the
    model's `restart` map (and `create_only` set)."""
    assert issubclass(model, EngineSettings)
    for name, prop in schema.get("properties", {}).items():
        rule = model.restart[name]  # every field has one (tests/engines check it)
        prop[RESTART_REQUIRED] = rule is not Restart.NEVER
        if rule in (Restart.NULL_TOGGLED, Restart.OFF_TOGGLED):
            prop[RESTART_WHEN] = rule.value
        if name in model.create_only:
            prop[CREATE_ONLY] = True


class EngineSettings(BaseModel):
    """The base of an engine's settings model: what changing each field costs the running
    server is declared beside the fields, and its JSON schema says so."""

    model_config = ConfigDict(json_schema_extra=restart_schema)

    # Every field -> what changing it costs (Restart).
    restart: ClassVar[Mapping[str, Restart]] = {}
    # Fields a create chooses and no change may touch (refused by the engine's check_change).
    create_only: ClassVar[frozenset[str]] = frozenset()


# An engine's settings model (MysqlSettings, RedisSettings): Engine is generic over it, so
# each engine's methods take its own model and none needs to check which one it got.
S = TypeVar("S", bound=EngineSettings)


def restarts(rule: Restart, before: object, after: object) -> bool:
    """Whether changing a setting of this rule from `before` to `after` restarts the server."""
    if before == after or rule is Restart.NEVER:
        return False
    if rule is Restart.NULL_TOGGLED:
        return (before is None) != (after is None)
    if rule is Restart.OFF_TOGGLED:
        return (before == "off") != (after == "off")
    return True


@dataclass(frozen=True)
class SettingsChange:
    """A validated change of an instance's settings: what the server takes live, and what
    needs one restart (names of settings fields, in the model's order)."""

    before: BaseModel
    after: BaseModel
    live: tuple[str, ...]
    restart: tuple[str, ...]
    convert: bool = False

    @property
    def changed(self) -> tuple[str, ...]:
        return self.live + self.restart


# Where users download the CA bundle they verify an instance's certificate with (public, no
# login), relative to the API's own URL (service/certificates/endpoints.py serves it).
CA_PATH = "/api/v1/tls/ca.pem"
# The file name connection details (uri, cli) tell clients to keep the CA bundle in.
CA_FILE = "dbvend-ca.pem"
TLS_OFF = "off"


class TlsDetails(BaseModel):
    """connection.tls: how a client verifies the server."""

    model_config = ConfigDict(extra="forbid")

    mode: str = Field(examples=["required"], description="off | optional | required")
    ca_url: str = Field(
        examples=["/api/v1/tls/ca.pem"], description="the CA bundle to verify with (public, no login)"
    )
    server_name: str = Field(
        description="the name the certificate carries and clients check: the host's address"
    )


def tls_mode(settings: BaseModel) -> str:
    """An instance's TLS mode (settings.tls); settings recorded before TLS existed are off."""
    return str(getattr(settings, "tls", TLS_OFF))


def tls_connection(settings: BaseModel, address: str) -> dict[str, Any]:
    """connection.tls: how a client verifies the server. server_name is what the
    certificate names and clients check: the host's address (dbvend_address)."""
    return {"mode": tls_mode(settings), "ca_url": CA_PATH, "server_name": address}


@dataclass(frozen=True)
class Rekey(Generic[S]):
    """What a claim turns a ready pool slot into (the warm pool, service/instances/warm.py):
    the new tenant's account and settings, applied over the engine's own protocol."""

    address: str
    port: int
    # The slot's settings as deployed, and the instance's (complete, validated, claimable).
    slot_settings: S
    settings: S
    # The instance's new credentials; admin_password is the slot's admin secret, which the
    # claimed instance keeps (dbvend's own account, never shown to the tenant).
    credentials: Credentials
    # The CA bundle (PEM) when the slot serves TLS: the claim verifies the slot's
    # certificate and its name (the host's address) before it sends a password hash.
    tls_ca: str | None = None


@dataclass(frozen=True)
class Gauge:
    """A per-instance gauge of /metrics read from the engine's probe (`key` of its metrics);
    engines that report the same figure name the same gauge."""

    name: str
    help: str
    key: str


# What every engine's probe reports, under one gauge each.
CONNECTIONS = Gauge(
    "dbvend_instance_connections", "Client connections (Threads_connected, connected_clients).", "connections"
)
LIMIT_HELP = "Connection limit (max_connections, maxclients)."


class RekeyFailed(Exception):
    """A claim could not re-key the slot (unreachable, refused, wrong state). The slot is
    marked broken and another is tried; the message never holds a secret."""


class Engine(ABC, Generic[S]):
    name: ClassVar[str]
    default_port: ClassVar[int]
    settings_model: type[S]
    # Whether rotate-password can keep the old password valid for a grace period.
    password_grace: ClassVar[bool] = False
    # What connection() returns, as the API documents it.
    connection_model: ClassVar[type[BaseModel]]
    # Monitoring: rule metrics that are a ratio of two probe metrics (name -> numerator,
    # denominator, what it is), and probe counters whose growth per round rules watch
    # (counter -> what it is; the rule metric is "<engine>_<counter>").
    ratio_metrics: ClassVar[Mapping[str, tuple[str, str, str]]] = {}
    counter_metrics: ClassVar[Mapping[str, str]] = {}
    # The per-instance gauges of /metrics the engine's probe gives (service/monitoring/exposition.py).
    gauges: ClassVar[tuple[Gauge, ...]] = ()
    # An instance's metrics history (GET /instances/{id}/metrics/history): the probe metrics of
    # the server's own memory use and its limit (None: the container's memory is all there is),
    # and of its connection limit.
    memory_metrics: ClassVar[tuple[str, str] | None] = None
    connection_limit_metric: ClassVar[str | None] = None
    # A backup (service/backups): the file's format, as its name ends, and its media type.
    backup_format: ClassVar[str]
    backup_media_type: ClassVar[str]

    def load_settings(self, stored: Mapping[str, Any]) -> S:
        """An instance's settings as recorded (already validated when they were accepted)."""
        return self.settings_model.model_validate(dict(stored))

    def change_settings(
        self, current: S, raw: Mapping[str, Any], *, convert: bool = False, instance_name: str
    ) -> SettingsChange:
        """Validate a change as a create is validated (422 naming the field, unknown keys
        refused), then let the engine refuse what cannot change and sort the rest."""
        merged = self.merge_change(current, raw)
        try:
            model = self.settings_model.model_validate(merged)
        except ValidationError as exc:
            raise SettingsError(pydantic_errors(exc, "settings")) from None
        after = self.complete(model, instance_name=instance_name)
        self.check_change(current, after, convert=convert)
        fields = type(after).model_fields
        changed = [name for name in fields if getattr(current, name) != getattr(after, name)]
        live = tuple(name for name in changed if self.applies_live(name, current, after))
        restart = tuple(name for name in changed if name not in live)
        return SettingsChange(current, after, live, restart, convert)

    def merge_change(self, current: S, raw: Mapping[str, Any]) -> dict[str, Any]:
        """The new settings before validation: the current ones with the given keys replaced."""
        return {**current.model_dump(), **raw}

    def check_change(self, before: S, after: S, *, convert: bool) -> None:
        """Raise SettingsError for a change the engine refuses (e.g. renaming a database)."""

    def restart_rule(self, name: str) -> Restart:
        """What changing this setting costs: the settings model's `restart` map says it."""
        return self.settings_model.restart[name]

    def applies_live(self, name: str, before: S, after: S) -> bool:
        return not restarts(self.restart_rule(name), getattr(before, name), getattr(after, name))

    def reconfigure_vars(self, change: SettingsChange) -> dict[str, Any]:
        """Extra variables for playbooks/reconfigure.yml, next to role_vars(change.after, ...)."""
        return {}

    def rotate_vars(self, old: Credentials, new: Credentials, *, grace_seconds: int) -> dict[str, Any]:
        """Extra variables for playbooks/rotate.yml, next to role_vars(settings, new)."""
        return {}

    def parse_settings(self, raw: dict[str, Any] | None, *, instance_name: str) -> S:
        try:
            model = self.settings_model.model_validate(raw or {})
        except ValidationError as exc:
            raise SettingsError(pydantic_errors(exc, "settings")) from None
        return self.complete(model, instance_name=instance_name)

    def complete(self, settings: S, *, instance_name: str) -> S:
        """Fill defaults that depend on other fields or on the instance."""
        return settings

    def new_credentials(self) -> Credentials:
        return Credentials(random_username(), random_password(), random_password())

    @abstractmethod
    def memory_mb(self, settings: S) -> int:
        """Container memory limit, the unit placement counts."""

    @abstractmethod
    def role_vars(self, settings: S, credentials: Credentials) -> dict[str, Any]:
        """Variables for roles/<engine>: password hashes, never the passwords, so nothing
        Ansible writes (its private data dir, module arguments) holds a secret."""

    @abstractmethod
    async def server_version(
        self, connection: Mapping[str, Any], limit: float, *, tls_ca: str | None = None
    ) -> str:
        """One readiness attempt: connect as the application account (connection() of the
        instance) and read the server's version; raise probe.EngineUnavailable. tls_ca (the
        CA bundle, PEM): over TLS, the certificate and the host name verified."""

    @abstractmethod
    async def probe(
        self, address: str, port: int, admin_password: str, limit: float, *, tls_ca: str | None = None
    ) -> ProbeResult:
        """Monitoring: connect with dbvend's own account and read what tells health; never
        raises. tls_ca as for server_version."""

    # -- the warm pool (service/pool/) --------------------------------------------------
    def slot_settings(self, memory_mb: int, *, tls: str = TLS_OFF) -> S | None:
        """The settings a pool slot of this size class (container memory, MB) is deployed
        with: the engine's defaults sized to memory_mb, with the TLS mode the pool serves
        (the deployment's default); None when no settings give exactly that container size
        (the inventory's class is then refused)."""
        return None

    def slot_connection(
        self, settings: S, credentials: Credentials, address: str, port: int
    ) -> dict[str, Any]:
        """What the pool keeper connects with to see a new slot serve (server_version): the
        slot's own application account, unless the engine deploys slots without one."""
        return self.connection(settings, credentials, address, port)

    def claimable(self, slot: S, wanted: S) -> bool:
        """Whether a claim can turn a slot deployed with `slot` into `wanted` without a
        restart: the same TLS mode (the slot's certificate is already the instance's), a
        container at least as big (the claim sets the server's own limits to the smaller size
        live, converge.yml the container's through Docker's update) and every other
        difference applied live."""
        if self.memory_mb(slot) < self.memory_mb(wanted) or tls_mode(slot) != tls_mode(wanted):
            return False
        fields = type(wanted).model_fields
        return all(
            self.applies_live(name, slot, wanted)
            for name in fields
            if getattr(slot, name) != getattr(wanted, name)
        )

    async def rekey(self, target: Rekey[S], limit: float) -> str | None:
        """Claim a slot: wipe what a tenant-less slot may hold, create the new tenant's
        account from a password hash and apply its settings live and durably (the server's
        own files), within `limit` seconds. Idempotent: a retry after any failure converges.
        Returns the server's version when it also checked the tenant's account (logged in
        as it on the same connection: one TLS handshake less per claim), None when the
        caller must (wait_ready). Raise RekeyFailed."""
        raise RekeyFailed(f"the {self.name} engine has no warm pool")

    @abstractmethod
    def connection(self, settings: S, credentials: Credentials, address: str, port: int) -> dict[str, Any]:
        """What a client needs to connect, shown to the instance's owner."""

    # -- extra credentials (bind/unbind, service/operations/credentials.py) ------------
    @abstractmethod
    def credential_vars(self, username: str, password: str | None) -> dict[str, Any]:
        """Variables for playbooks/bind.yml (the user and its password's hash, never the
        password) and unbind.yml (password None: the user alone), next to role_vars."""

    @abstractmethod
    def credential_connection(
        self, settings: S, username: str, password: str, address: str, port: int
    ) -> dict[str, Any]:
        """What a client of an extra credential connects with: uri, host, port, username,
        password (and database where the engine has one). The readiness check after a bind
        connects with it too (server_version)."""
