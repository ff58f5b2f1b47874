"""The settings of one service process: every value the code takes from its environment,
in one object that is passed in (never read from os.environ inside the code)."""

from __future__ import annotations

from dataclasses import dataclass, field
from ipaddress import IPv4Network, IPv6Network
from pathlib import Path

from ..tls import TlsSettings

PROJECT_ROOT = Path(__file__).resolve().parent.parent.parent


class ConfigError(ValueError):
    """A setting is missing or unsafe; the message names the variable."""


@dataclass(frozen=True)
class BrokerSettings:
    """HTTP Basic credentials platforms use on /v2, and the dbvend account owning their instances."""

    username: str
    password: str = field(repr=False)
    account: str = "osb-broker"


@dataclass(frozen=True)
class Settings:
    environment: str
    listen_host: str
    listen_port: int
    state_dir: Path
    database_url: str
    inventory: Path
    secret_keys: tuple[str, ...]
    admin_password: str | None
    token_ttl_seconds: int
    run_worker: bool
    worker_id: str
    worker_slots: int
    batch_size: int
    batch_window: float
    lease_seconds: int
    max_attempts: int
    max_wait_seconds: int
    port_block_seconds: int
    ready_timeout: float
    health_interval: float
    project_dir: Path = field(default=PROJECT_ROOT)
    # Monitoring (service/monitoring): collection round every collect_interval seconds
    # (0 = monitoring off), API-side rules every alert_eval_interval seconds.
    collect_interval: float = 15.0
    # A round probes every engine over its own protocol; the Ansible read of a host's
    # containers (collect.yml: state, restart count, memory, CPU, disk) runs when a probe
    # failed or saw a restart, when something there is new or down, and at least every
    # collect_full_interval seconds (0 = every round, as before).
    collect_full_interval: float = 60.0
    alert_eval_interval: float = 5.0
    slow_request_seconds: float = 2.0
    retention_days: int = 7
    alertmanager_url: str | None = None
    # Per-user limits unless an admin set others (PATCH /api/v1/users/{name}).
    quota_instances: int = 20
    quota_memory_mb: int = 8192
    quota_backup_mb: int = 10240
    # The backup store (DBVEND_BACKUP_DIR; default <state dir>/backups): encrypted files.
    backup_root: Path | None = None
    # DBVEND_BACKUP_HOST: an inventory host that keeps the encrypted files instead (in
    # backup_host_dir there, DBVEND_BACKUP_HOST_DIR); the key never leaves the service.
    backup_host: str | None = None
    backup_host_dir: str = "/var/lib/dbvend-backups"
    # argon2 runs on its own threads; past workers + queue jobs a login answers 503.
    password_workers: int = 2
    password_queue: int = 16
    # A failed container cleanup is retried this many times (backing off) before it is
    # recorded as failed for an admin; its port claim is kept throughout.
    cleanup_attempts: int = 5
    # Retention of records (service/operations/retention.py), pruned every
    # retention_interval seconds by one process: finished operations, deleted instances
    # (after their operations), events; expired or revoked tokens go after a day.
    retention_operations_days: int = 30
    retention_events_days: int = 14
    retention_deleted_days: int = 30
    retention_interval: float = 3600.0
    # Webhooks: networks an admin lets them reach besides public addresses, and how many
    # one user may have (service/monitoring/egress.py).
    webhook_allow: tuple[IPv4Network | IPv6Network, ...] = ()
    webhook_limit: int = 10
    # GET /api/v1/events/stream (service/events): heartbeat every stream_heartbeat seconds
    # (ping + a heartbeat message; the token is re-checked then), at most stream_limit open
    # streams per user in one service process.
    stream_heartbeat: float = 15.0
    stream_limit: int = 5
    # Backup schedules (service/backups/scheduler.py): how many seconds one of a policy's
    # interval_hours lasts. 3600 in service; a test knob (DBVEND_BACKUP_HOUR_SECONDS=2) makes
    # schedules fire within seconds. The scheduler looks for due backups every
    # backup_check_interval seconds (derived: at most 30 s late with real hours).
    backup_hour_seconds: int = 3600
    # The warm pool (service/pool, docs/pool.md): DBVEND_POOL=off neither claims nor refills;
    # the keeper's round every pool_interval seconds.
    pool_enabled: bool = True
    pool_interval: float = 5.0
    # Bearer tokens looked up in PostgreSQL are remembered this many seconds per process
    # (0 = never): a token revoked through this process is refused at once, one revoked
    # through another process (or a disabled user) within this bound.
    token_cache_seconds: float = 2.0
    # How long a process may serve a rendered instance detail or list page (0 = never;
    # service/instances/view_cache.py): changes drop them at once through dbvend_views, so this
    # bounds only what a notification lost without the LISTEN connection noticing can cost.
    view_cache_seconds: float = 10.0
    # The Open Service Broker API at /v2 (service/broker): None when it is switched off.
    broker: BrokerSettings | None = None
    # The plans offered (service/plans/plans.yml's format); DBVEND_PLANS names another file.
    plans_file: Path = PROJECT_ROOT / "service" / "plans" / "plans.yml"
    # Where systemd listens for readiness (NOTIFY_SOCKET, Type=notify units); None outside it.
    notify_socket: str | None = None
    # TLS (docs/tls.md): DBVEND_TLS_DEFAULT, DBVEND_TLS_CERT_DAYS, the operator's CA
    # (DBVEND_TLS_CA_CERT/KEY, files) and the API's HTTPS (DBVEND_TLS_CERT/KEY, files).
    tls: TlsSettings = field(default_factory=TlsSettings)

    @property
    def backup_check_interval(self) -> float:
        return min(30.0, max(0.5, self.backup_hour_seconds / 120))

    @property
    def development(self) -> bool:
        return self.environment == "development"

    @property
    def runs_dir(self) -> Path:
        return self.state_dir / "runs"

    @property
    def backup_dir(self) -> Path:
        return self.backup_root or self.state_dir / "backups"

    @property
    def staging_dir(self) -> Path:
        """Plaintext backups while the service handles them (0700, swept at start)."""
        return self.state_dir / "staging"

    @property
    def admin_password_file(self) -> Path:
        return self.state_dir / "admin-password"
