"""One runtime for `serve` and `worker`: build_runtime() makes the process's Context, its
domain services and its components (nothing is started); Runtime.running() starts the
components in order on an AsyncExitStack, so when one fails to start, the ones before it
are stopped again, newest first, and nothing is left running; leaving it stops them all.

Components in start order (serve; the worker starts the ones marked *):
  database* (pools, migrations), tls* (the CA: made, or the operator's), inventory* (the
  hosts), admin (the first start's user),
  recovery* (dead runs, dead leases, stale backup files), waiter, worker* (unless
  DBVEND_WORKER=off), host health, retention, backup schedules, certificate renewal,
  pool keeper (unless
  DBVEND_POOL=off), event recorder, monitoring (or, with DBVEND_COLLECT_INTERVAL=0, the
  webhook deliveries), event hub, the SIGHUP reload*. The password pool is first: closed last."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from .accounts.service import AccountService
from .accounts.throttle import LoginThrottle
from .accounts.token_cache import TokenCache
from .backups.scheduler import BackupScheduler
from .backups.service import BackupService
from .certificates.service import CertificateService
from .context import Context
from .credentials.service import CredentialService
from .crypto import SecretBox
from .db.migrate import migrate
from .db.pool import create_pool, create_read_pool
from .events.hub import EventHub
from .events.service import EventService
from .fleet.health import HostMonitor
from .fleet.service import FleetService
from .instances import view_cache
from .instances.renewal import CertificateRenewal
from .instances.service import InstanceService
from .instances.view_cache import ViewCache
from .monitoring.delivery import DeliveryLoop
from .monitoring.egress import EgressPolicy
from .monitoring.gateway import Gateway
from .monitoring.monitor import Monitor
from .monitoring.recorder import EventRecorder
from .monitoring.service import MonitoringService
from .operations.recovery import recover, sweep_backups
from .operations.retention import RetentionJob
from .operations.runner import PlaybookRunner
from .operations.waiter import OperationWaiter
from .operations.worker import Worker
from .passwords import PasswordPool
from .plans.catalog import load_catalog
from .plans.service import PlanService
from .pool import metrics as pool_metrics
from .pool.keeper import PoolKeeper

if TYPE_CHECKING:
    from .config import Settings
    from .db import Pool
    from .inventory import DockerHost


class _Job(Protocol):
    async def start(self) -> None: ...
    async def stop(self) -> None: ...


log = logging.getLogger(__name__)


async def _nothing() -> None:
    return None


@dataclass
class Component:
    """Something that starts and stops with the process."""

    name: str
    start: Callable[[], Awaitable[None]]
    stop: Callable[[], Awaitable[None]] = _nothing


@dataclass
class Runtime:
    settings: Settings
    ctx: Context
    accounts: AccountService
    plans: PlanService
    backups: BackupService
    instances: InstanceService
    credentials: CredentialService
    fleet: FleetService
    monitoring_service: MonitoringService
    events: EventService
    certificates: CertificateService
    gateway: Gateway
    hub: EventHub
    passwords: PasswordPool
    components: list[Component] = field(default_factory=list)
    worker: Worker | None = None
    # The monitoring loops; None when DBVEND_COLLECT_INTERVAL=0 (or in a worker).
    monitoring: Monitor | None = None

    @property
    def pool(self) -> Pool:
        return self.ctx.pool

    @property
    def box(self) -> SecretBox:
        return self.ctx.box

    @property
    def runner(self) -> PlaybookRunner:
        return self.ctx.runner

    @property
    def hosts(self) -> dict[str, DockerHost]:
        return self.ctx.hosts

    @property
    def views(self) -> ViewCache:
        return self.instances.views

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[Runtime]:
        """Start every component in order; stop them all (newest first) on leaving, or as
        soon as one fails to start."""
        async with contextlib.AsyncExitStack() as stack:
            for component in self.components:
                await component.start()
                stack.push_async_callback(_stopping, component)
            yield self


async def _stopping(component: Component) -> None:
    try:
        await component.stop()
    except Exception:
        log.exception("stopping %s failed", component.name)


def build_runtime(settings: Settings, *, serve: bool = True) -> Runtime:
    """The process's parts, none started. `serve`: the whole service (the API's process);
    otherwise a worker without the HTTP API, for scaling out."""
    ctx = Context(
        settings=settings,
        box=SecretBox(settings.secret_keys),
        runner=PlaybookRunner(settings.project_dir, settings.runs_dir),
    )
    passwords = PasswordPool(workers=settings.password_workers, queue=settings.password_queue)
    accounts = AccountService(
        ctx, passwords=passwords, throttle=LoginThrottle(), tokens=TokenCache(settings.token_cache_seconds)
    )
    plans = PlanService(ctx, load_catalog(settings.plans_file))
    backups = BackupService(ctx)
    views = ViewCache(settings.view_cache_seconds)
    instances = InstanceService(ctx, plans=plans, backups=backups, views=views)
    gateway = Gateway(EventRecorder(), slow_seconds=settings.slow_request_seconds)
    monitoring = MonitoringService(
        ctx,
        egress=EgressPolicy.from_settings(settings),
        registry=gateway.registry,
        exposition_parts=[lambda: pool_metrics.exposition(ctx.pool), lambda: view_cache.exposition(views)],
    )
    hub = EventHub(
        settings.database_url,
        limit=settings.stream_limit,
        on_view_change=views.notified,
    )
    runtime = Runtime(
        settings=settings,
        ctx=ctx,
        accounts=accounts,
        plans=plans,
        backups=backups,
        instances=instances,
        credentials=CredentialService(ctx),
        fleet=FleetService(ctx),
        monitoring_service=monitoring,
        events=EventService(ctx, hub, accounts),
        certificates=CertificateService(ctx),
        gateway=gateway,
        hub=hub,
        passwords=passwords,
    )
    runtime.components = _serve_components(runtime) if serve else _worker_components(runtime)
    return runtime


def _database(rt: Runtime, *, read_pool: bool) -> Component:
    async def start() -> None:
        settings = rt.settings
        pool = await create_pool(settings.database_url)
        try:
            async with pool.acquire() as conn:
                applied = await migrate(conn)
            if applied:
                log.info("applied migrations: %s", ", ".join(applied))
            reads = await create_read_pool(settings.database_url) if read_pool else None
        except BaseException:
            await pool.close()
            raise
        rt.ctx.connected(pool, reads)

    async def stop() -> None:
        pool, reads = rt.ctx.pool, rt.ctx.read_pool
        rt.ctx.connected(None, None)
        if reads is not None:
            await reads.close()
        await pool.close()

    return Component("database", start, stop)


def _recovery(rt: Runtime) -> Component:
    async def start() -> None:
        await recover(rt.ctx.pool, rt.settings.runs_dir)
        await sweep_backups(rt.ctx.pool, rt.settings, rt.ctx.box)

    return Component("recovery", start)


def _worker(rt: Runtime) -> Component:
    async def start() -> None:
        worker = Worker(rt.ctx.pool, rt.settings, rt.ctx.box, rt.ctx.runner, rt.ctx.hosts)
        await worker.start()
        rt.worker = worker
        rt.ctx.on_hosts_changed(worker.update_hosts)

    async def stop() -> None:
        if rt.worker is not None:
            await rt.worker.stop()

    return Component("worker", start, stop)


def _waiter(rt: Runtime) -> Component:
    async def start() -> None:
        waiter = OperationWaiter(rt.ctx.pool)
        await waiter.start()
        rt.ctx.waiting(waiter)

    async def stop() -> None:
        await rt.ctx.waiter.stop()

    return Component("waiter", start, stop)


def _job(name: str, make: Callable[[], _Job]) -> Component:
    """A background job, made once the pool exists."""
    made: list[_Job] = []

    async def start() -> None:
        job = make()
        await job.start()
        made.append(job)

    async def stop() -> None:
        for job in made:
            await job.stop()

    return Component(name, start, stop)


def _monitoring(rt: Runtime) -> Component:
    """The monitoring loops; without them (DBVEND_COLLECT_INTERVAL=0) webhooks still get
    instance events from a delivery loop. Either is woken by the event hub."""
    settings, ctx = rt.settings, rt.ctx
    loops: list[Monitor | DeliveryLoop] = []

    async def start() -> None:
        if settings.collect_interval > 0:
            monitor = Monitor(ctx.pool, settings, ctx.runner, ctx.live_hosts, ctx.box, rt.gateway.registry)
            await monitor.start()
            rt.monitoring = monitor
            rt.hub.on_instance_event = monitor.wake_dispatch
            rt.monitoring_service.wake_deliveries = monitor.wake_dispatch
            loops.append(monitor)
        else:
            deliveries = DeliveryLoop(ctx.pool, EgressPolicy.from_settings(settings), ctx.box)
            await deliveries.start()
            rt.hub.on_instance_event = deliveries.wake
            rt.monitoring_service.wake_deliveries = deliveries.wake
            loops.append(deliveries)

    async def stop() -> None:
        for loop in loops:
            await loop.stop()

    return Component("monitoring", start, stop)


def _event_hub(rt: Runtime) -> Component:
    async def start() -> None:
        rt.views.attach(rt.hub.listening.is_set)
        await rt.hub.start()

    return Component("event hub", start, rt.hub.stop)


def _sighup(rt: Runtime) -> Component:
    """SIGHUP re-reads the inventory, like POST /api/v1/hosts/reload (without a handler it
    would end the process: `systemctl reload` of a unit would kill it)."""
    reloads: set[asyncio.Task[None]] = set()

    async def reload_logged() -> None:
        try:
            await rt.fleet.reload()
        except Exception as exc:
            log.error("inventory reload on SIGHUP failed, keeping the hosts loaded before: %s", exc)

    def reload() -> None:
        task = asyncio.ensure_future(reload_logged())
        reloads.add(task)
        task.add_done_callback(reloads.discard)

    async def start() -> None:
        try:
            asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, reload)
        except (NotImplementedError, RuntimeError, ValueError):
            log.info("SIGHUP reload unavailable here; use POST /api/v1/hosts/reload")

    return Component("SIGHUP reload", start)


def _serve_components(rt: Runtime) -> list[Component]:
    settings, ctx = rt.settings, rt.ctx
    owner = settings.worker_id

    async def close_passwords() -> None:
        rt.passwords.close()

    found = [
        Component("password pool", _nothing, close_passwords),
        _database(rt, read_pool=True),
        # The CA: made on the first start, or the operator's (checked with the settings).
        Component("tls", rt.certificates.start),
        Component("inventory", rt.fleet.reload),
        Component("admin", rt.accounts.ensure_admin),
        _recovery(rt),
        _waiter(rt),
    ]
    if settings.run_worker:
        found.append(_worker(rt))
    found += [
        _job(
            "host health",
            lambda: HostMonitor(
                ctx.pool,
                ctx.runner,
                ctx.live_hosts,
                owner=owner,
                interval=settings.health_interval,
                cleanup_attempts=settings.cleanup_attempts,
            ),
        ),
        _job("retention", lambda: RetentionJob(ctx.pool, settings, owner=owner)),
        _job("backup schedules", lambda: BackupScheduler(ctx.pool, settings, rt.backups, owner=owner)),
        _job(
            "certificate renewal",
            lambda: CertificateRenewal(ctx.pool, settings, owner=owner, interval=settings.tls.renew_interval),
        ),
    ]
    if settings.pool_enabled:
        found.append(
            _job(
                "pool keeper",
                lambda: PoolKeeper(ctx.pool, settings, ctx.runner, ctx.live_hosts, ctx.box, owner=owner),
            )
        )
    found += [
        Component("event recorder", lambda: rt.gateway.recorder.start(ctx.pool), rt.gateway.recorder.stop),
        _monitoring(rt),
        _event_hub(rt),
        _sighup(rt),
    ]
    return found


def _worker_components(rt: Runtime) -> list[Component]:
    return [
        _database(rt, read_pool=False),
        # The CA: made on the first start, or the operator's (checked with the settings).
        Component("tls", rt.certificates.start),
        Component("inventory", rt.fleet.reload),
        _recovery(rt),
        _worker(rt),
        _sighup(rt),
    ]
