"""Reading the settings from DBVEND_* environment variables (and DATABASE_URL,
NOTIFY_SOCKET), checked once at start: each variable's parser, and load_settings()."""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Mapping
from datetime import UTC, datetime
from ipaddress import IPv4Network, IPv6Network, ip_network
from pathlib import Path

from cryptography.fernet import Fernet

from ..pids import local_scope
from ..tls import TlsError, TlsSettings, load_tls_settings
from .settings import PROJECT_ROOT, BrokerSettings, ConfigError, Settings


def _env(name: str, default: str) -> str:
    return os.environ.get(name, default).strip() or default


def _int(name: str, default: int, low: int, high: int) -> int:
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from exc
    if not low <= value <= high:
        raise ConfigError(f"{name} must be between {low} and {high}, got {value}")
    return value


def _float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        return float(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from exc


def _on_off(name: str, default: bool) -> bool:
    raw = os.environ.get(name, "").strip().lower()
    if not raw:
        return default
    if raw not in ("on", "off"):
        raise ConfigError(f"{name} must be on or off, got {raw[:20]!r}")
    return raw == "on"


def _bounded_float(name: str, default: float, low: float, high: float) -> float:
    value = _float(name, default)
    if not low <= value <= high:  # also refuses nan
        raise ConfigError(f"{name} must be between {low:g} and {high:g}, got {value:g}")
    return value


def process_environment() -> Mapping[str, str]:
    """The environment this process runs with, live, for the programs it starts: the runner
    copies an allow-list of it to ansible-playbook (operations/runner.py). Everything else
    the service takes from its environment is read here, into Settings."""
    return os.environ


def _write_private(path: Path, content: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(content)


def _database_url(state_dir: Path) -> str:
    url = os.environ.get("DATABASE_URL", "").strip()
    if url:
        return url
    embedded = state_dir / "database_url"
    if embedded.exists():
        return embedded.read_text().strip()
    raise ConfigError(
        "DATABASE_URL is unset and no embedded cluster was found at "
        f"{embedded}; run `make run` (or scripts/ensure-postgres.sh) first"
    )


def _secret_keys(state_dir: Path, development: bool) -> tuple[str, ...]:
    raw = os.environ.get("DBVEND_SECRET_KEY", "").strip()
    if not raw:
        key_file = state_dir / "secret.key"
        if not key_file.exists():
            _write_private(key_file, Fernet.generate_key().decode())
        raw = key_file.read_text().strip()
    keys = tuple(k.strip() for k in raw.split(",") if k.strip())
    for key in keys:
        try:
            Fernet(key.encode())
        except ValueError as exc:
            raise ConfigError(
                "DBVEND_SECRET_KEY must be comma-separated Fernet keys (32 url-safe base64 bytes)"
            ) from exc
    return keys


def _listen(raw: str) -> tuple[str, int]:
    host, _, port = raw.rpartition(":")
    if not host or not port.isdigit():
        raise ConfigError(f"DBVEND_LISTEN must be host:port, got {raw!r}")
    return host.strip("[]"), int(port)


def _alertmanager_url() -> str | None:
    raw = os.environ.get("DBVEND_ALERTMANAGER_URL", "").strip().rstrip("/")
    if raw and not raw.startswith(("http://", "https://")):
        raise ConfigError(f"DBVEND_ALERTMANAGER_URL must be an http(s) URL, got {raw!r}")
    return raw or None


def _webhook_allow() -> tuple[IPv4Network | IPv6Network, ...]:
    nets: list[IPv4Network | IPv6Network] = []
    for part in os.environ.get("DBVEND_WEBHOOK_ALLOW", "").split(","):
        if not part.strip():
            continue
        try:
            nets.append(ip_network(part.strip(), strict=True))
        except ValueError as exc:
            raise ConfigError(
                f"DBVEND_WEBHOOK_ALLOW must be comma-separated networks in CIDR form "
                f"(such as 10.20.0.0/16), got {part.strip()!r}: {exc}"
            ) from None
    return tuple(nets)


def backup_quota_default() -> int:
    """DBVEND_QUOTA_BACKUP_MB: a user's backup storage unless an admin set another."""
    return _int("DBVEND_QUOTA_BACKUP_MB", 10240, 0, 1024 * 1024 * 1024)


def _backup_dir() -> Path | None:
    raw = os.environ.get("DBVEND_BACKUP_DIR", "")
    if not raw:
        return None
    if "\x00" in raw or not raw.startswith("/"):
        raise ConfigError(f"DBVEND_BACKUP_DIR must be an absolute directory path, got {raw!r}")
    return Path(raw).resolve()


_HOST_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,62}")
_REMOTE_DIR = re.compile(r"(/[A-Za-z0-9._@+-]{1,255}){1,32}")


def _backup_host() -> tuple[str | None, str]:
    """DBVEND_BACKUP_HOST (an inventory host name; checked against the inventory at start)
    and DBVEND_BACKUP_HOST_DIR (absolute, plain path parts only: it goes into a playbook)."""
    host = os.environ.get("DBVEND_BACKUP_HOST", "").strip() or None
    if host is not None and not _HOST_NAME.fullmatch(host):
        raise ConfigError(f"DBVEND_BACKUP_HOST must be an inventory host name, got {host[:80]!r}")
    raw = os.environ.get("DBVEND_BACKUP_HOST_DIR", "").strip() or "/var/lib/dbvend-backups"
    parts = raw.rstrip("/").split("/")[1:] if len(raw) <= 1024 else []
    if not _REMOTE_DIR.fullmatch(raw.rstrip("/")) or any(p in (".", "..") for p in parts):
        raise ConfigError(
            "DBVEND_BACKUP_HOST_DIR must be an absolute directory of plain names"
            f" (letters, digits, . _ @ + -; no . or ..), got {raw[:80]!r}"
        )
    return host, raw.rstrip("/")


# Passwords that appear in dbvend's own examples or that people type first: never in production.
_KNOWN_BROKER_PASSWORDS = frozenset({"change-me", "changeme", "password", "broker", "secret", "admin"})
MIN_BROKER_PASSWORD = 24


def _broker(development: bool) -> BrokerSettings | None:
    """DBVEND_BROKER=on serves /v2 with DBVEND_BROKER_USERNAME / DBVEND_BROKER_PASSWORD. In
    production a missing, short or well-known password refuses to start instead of opening a
    broker anyone can guess; in development any non-empty password is taken."""
    if not _on_off("DBVEND_BROKER", False):
        return None
    username = _env("DBVEND_BROKER_USERNAME", "broker")
    password = os.environ.get("DBVEND_BROKER_PASSWORD", "")
    if not password:
        raise ConfigError("DBVEND_BROKER=on needs DBVEND_BROKER_PASSWORD")
    if ":" in username or not username.isprintable() or len(username) > 64:
        raise ConfigError("DBVEND_BROKER_USERNAME: up to 64 printable characters, no ':'")
    if not development and (
        len(password) < MIN_BROKER_PASSWORD or password.lower() in _KNOWN_BROKER_PASSWORDS
    ):
        raise ConfigError(
            f"DBVEND_BROKER_PASSWORD must be at least {MIN_BROKER_PASSWORD} random characters in production"
        )
    account = _env("DBVEND_BROKER_ACCOUNT", "osb-broker")
    return BrokerSettings(username, password, account)


def _tls(development: bool) -> TlsSettings:
    try:
        return load_tls_settings(os.environ, now=datetime.now(UTC), production=not development)
    except TlsError as exc:
        raise ConfigError(str(exc)) from None


def load_settings() -> Settings:
    environment = _env("DBVEND_ENV", "development")
    if environment not in ("development", "production"):
        raise ConfigError("DBVEND_ENV must be development or production")
    development = environment == "development"
    state_dir = Path(_env("DBVEND_STATE_DIR", str(PROJECT_ROOT / ".state"))).resolve()
    state_dir.mkdir(parents=True, exist_ok=True)
    listen_host, listen_port = _listen(_env("DBVEND_LISTEN", "127.0.0.1:8080"))
    backup_host, backup_host_dir = _backup_host()
    admin_password = os.environ.get("DBVEND_ADMIN_PASSWORD") or None
    if admin_password is not None and len(admin_password) < 12:
        raise ConfigError("DBVEND_ADMIN_PASSWORD must be at least 12 characters")
    broker = _broker(development)
    if not development:
        if not os.environ.get("DBVEND_SECRET_KEY"):
            raise ConfigError("DBVEND_SECRET_KEY is required in production (keep it outside the state dir)")
        if not os.environ.get("DATABASE_URL"):
            raise ConfigError("DATABASE_URL is required in production")
    settings = Settings(
        environment=environment,
        listen_host=listen_host,
        listen_port=listen_port,
        state_dir=state_dir,
        database_url=_database_url(state_dir),
        inventory=Path(_env("DBVEND_INVENTORY", str(PROJECT_ROOT / "inventory" / "hosts.yml"))),
        secret_keys=_secret_keys(state_dir, development),
        admin_password=admin_password,
        token_ttl_seconds=_int("DBVEND_TOKEN_TTL", 12 * 3600, 60, 30 * 24 * 3600),
        run_worker=_env("DBVEND_WORKER", "on") != "off",
        worker_id=f"{local_scope()}:{os.getpid()}:{secrets.token_hex(3)}",
        worker_slots=_int("DBVEND_WORKER_SLOTS", 2, 1, 32),
        batch_size=_int("DBVEND_BATCH_SIZE", 40, 1, 200),
        batch_window=_float("DBVEND_BATCH_WINDOW", 0.15),
        lease_seconds=_int("DBVEND_LEASE_SECONDS", 30, 10, 3600),
        max_attempts=_int("DBVEND_MAX_ATTEMPTS", 3, 1, 10),
        max_wait_seconds=_int("DBVEND_MAX_WAIT", 300, 1, 3600),
        port_block_seconds=_int("DBVEND_PORT_BLOCK_SECONDS", 600, 1, 86400),
        ready_timeout=max(1.0, _float("DBVEND_READY_TIMEOUT", 120.0)),
        health_interval=_float("DBVEND_HEALTH_INTERVAL", 15.0),
        collect_interval=max(0.0, _float("DBVEND_COLLECT_INTERVAL", 15.0)),
        collect_full_interval=_bounded_float("DBVEND_COLLECT_FULL_INTERVAL", 60.0, 0.0, 86400.0),
        alert_eval_interval=max(0.2, _float("DBVEND_ALERT_EVAL_INTERVAL", 5.0)),
        slow_request_seconds=_float("DBVEND_SLOW_REQUEST_SECONDS", 2.0),
        retention_days=_int("DBVEND_RETENTION_DAYS", 7, 1, 3650),
        cleanup_attempts=_int("DBVEND_CLEANUP_ATTEMPTS", 5, 1, 100),
        retention_operations_days=_int("DBVEND_RETENTION_OPERATIONS_DAYS", 30, 1, 3650),
        retention_events_days=_int("DBVEND_RETENTION_EVENTS_DAYS", 14, 1, 3650),
        retention_deleted_days=_int("DBVEND_RETENTION_DELETED_DAYS", 30, 1, 3650),
        retention_interval=float(_int("DBVEND_RETENTION_INTERVAL", 3600, 10, 7 * 24 * 3600)),
        alertmanager_url=_alertmanager_url(),
        quota_instances=_int("DBVEND_QUOTA_INSTANCES", 20, 0, 100_000),
        quota_memory_mb=_int("DBVEND_QUOTA_MEMORY_MB", 8192, 0, 16 * 1024 * 1024),
        quota_backup_mb=backup_quota_default(),
        backup_root=_backup_dir(),
        backup_host=backup_host,
        backup_host_dir=backup_host_dir,
        password_workers=_int("DBVEND_PASSWORD_WORKERS", 2, 1, 8),
        password_queue=_int("DBVEND_PASSWORD_QUEUE", 16, 0, 1024),
        webhook_allow=_webhook_allow(),
        webhook_limit=_int("DBVEND_WEBHOOK_LIMIT", 10, 0, 1000),
        stream_heartbeat=float(_int("DBVEND_STREAM_HEARTBEAT", 15, 1, 300)),
        stream_limit=_int("DBVEND_STREAM_LIMIT", 5, 0, 1000),
        backup_hour_seconds=_int("DBVEND_BACKUP_HOUR_SECONDS", 3600, 1, 3600),
        pool_enabled=_on_off("DBVEND_POOL", True),
        pool_interval=float(_int("DBVEND_POOL_INTERVAL", 5, 1, 3600)),
        token_cache_seconds=_bounded_float("DBVEND_TOKEN_CACHE_SECONDS", 2.0, 0.0, 60.0),
        view_cache_seconds=_bounded_float("DBVEND_VIEW_CACHE_SECONDS", 10.0, 0.0, 300.0),
        broker=broker,
        plans_file=Path(_env("DBVEND_PLANS", str(PROJECT_ROOT / "service" / "plans" / "plans.yml"))),
        notify_socket=os.environ.get("NOTIFY_SOCKET") or None,
        tls=_tls(development),
    )
    if not settings.plans_file.is_file():
        raise ConfigError(f"DBVEND_PLANS points at {settings.plans_file}, which is not a file")
    if not settings.inventory.exists():
        raise ConfigError(f"DBVEND_INVENTORY points at {settings.inventory}, which does not exist")
    return settings
