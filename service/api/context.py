"""What the handlers share, stored once on the Application under a typed key."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from aiohttp import web

from ..config import Settings
from ..crypto import SecretBox
from ..inventory import DockerHost
from ..monitoring.egress import EgressPolicy
from ..monitoring.monitor import Monitor
from ..operations.runner import PlaybookRunner
from ..operations.waiter import OperationWaiter
from ..operations.worker import Worker
from ..passwords import PasswordPool
from ..plans import DEFAULT_PLANS, PlanCatalog, load_catalog
from .token_cache import TokenCache
from .view_cache import ViewCache

if TYPE_CHECKING:
    from ..db import Pool


@dataclass
class Services:
    settings: Settings
    pool: Pool
    box: SecretBox
    runner: PlaybookRunner
    waiter: OperationWaiter
    egress: EgressPolicy  # which URLs may be registered as webhooks
    hosts: dict[str, DockerHost] = field(default_factory=dict)
    worker: Worker | None = None
    monitoring: Monitor | None = None  # the monitoring loops; None when DBVEND_COLLECT_INTERVAL=0
    tokens: TokenCache = field(default_factory=TokenCache)  # DBVEND_TOKEN_CACHE_SECONDS
    views: ViewCache = field(default_factory=ViewCache)  # DBVEND_VIEW_CACHE_SECONDS
    # Single-statement reads of the hot routes (db.pool.create_read_pool); else `pool`.
    read_pool: Pool | None = None
    # The plans offered (DBVEND_PLANS); an admin's availability switches live in PostgreSQL.
    plans: PlanCatalog = field(default_factory=lambda: load_catalog(DEFAULT_PLANS))

    @property
    def reads(self) -> Pool:
        return self.read_pool or self.pool


SERVICES: web.AppKey[Services] = web.AppKey("services", Services)
# argon2's own threads (service/passwords.py); made with the app, so tests can read its counter.
PASSWORDS: web.AppKey[PasswordPool] = web.AppKey("password_pool", PasswordPool)


def services(request: web.Request) -> Services:
    return request.app[SERVICES]


def passwords(request: web.Request) -> PasswordPool:
    return request.app[PASSWORDS]
