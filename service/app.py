"""Builds the aiohttp Application: routes, middlewares, and what starts and stops with it."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import AsyncIterator

from aiohttp import web

from .api import (
    alerts,
    auth,
    backups,
    console,
    credentials,
    hosts,
    instance_actions,
    instances,
    me,
    metrics,
    openapi,
    operations,
    plans,
    rules,
    stream,
    users,
    webhooks,
)
from .api.context import PASSWORDS, SERVICES, Services
from .api.edge import edge_middleware
from .api.errors import error_middleware
from .api.throttle import THROTTLE, LoginThrottle
from .api.token_cache import TokenCache
from .api.view_cache import ViewCache
from .backups.scheduler import BackupScheduler
from .backupstore.remote import StoreHosts
from .backupstore.store import BackupStore
from .bootstrap import ensure_admin
from .broker import bindings as broker_bindings
from .broker import instances as broker_instances
from .broker.protocol import broker_middleware, osb_response
from .config import Settings
from .crypto import SecretBox
from .db.migrate import migrate
from .db.pool import create_pool, create_read_pool
from .events.hub import EventHub
from .monitoring.delivery import DeliveryLoop
from .monitoring.egress import EgressPolicy
from .monitoring.gateway import GATEWAY, Gateway
from .monitoring.monitor import Monitor
from .monitoring.recorder import EventRecorder
from .operations.health import HostMonitor
from .operations.recovery import recover, sweep_backups
from .operations.retention import RetentionJob
from .operations.runner import PlaybookRunner
from .operations.waiter import OperationWaiter
from .operations.worker import Worker
from .passwords import PasswordPool
from .plans import load_catalog as load_plans
from .pool.keeper import PoolKeeper

log = logging.getLogger(__name__)


MONITOR = web.AppKey("host_monitor", HostMonitor)
_background: set[asyncio.Future[None]] = set()


def _reload_on_sighup(svc: Services) -> None:
    """SIGHUP re-reads the inventory, like POST /api/v1/hosts/reload."""

    async def reload_logged() -> None:
        try:
            await hosts.reload_hosts(svc)
        except Exception as exc:
            log.error("inventory reload on SIGHUP failed, keeping the hosts loaded before: %s", exc)

    def reload() -> None:
        task = asyncio.ensure_future(reload_logged())
        _background.add(task)
        task.add_done_callback(_background.discard)

    try:
        asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, reload)
    except (NotImplementedError, RuntimeError, ValueError):
        log.info("SIGHUP reload unavailable here; use POST /api/v1/hosts/reload")


def build_app(settings: Settings) -> web.Application:
    # The gateway collector wraps the error middleware, so it sees every final status.
    gateway = Gateway(EventRecorder(), slow_seconds=settings.slow_request_seconds)
    app = web.Application(
        middlewares=[
            gateway.middleware(),
            error_middleware({"/v2": osb_response}),
            edge_middleware,
            broker_middleware(settings.broker),
            auth.auth_middleware,
        ],
        client_max_size=64 * 1024,
    )
    app[GATEWAY] = gateway
    app[THROTTLE] = LoginThrottle()
    app[PASSWORDS] = PasswordPool(workers=settings.password_workers, queue=settings.password_queue)
    for table in (
        auth.routes,
        me.routes,
        users.routes,
        instances.routes,
        instance_actions.routes,
        credentials.routes,
        backups.routes,
        operations.routes,
        hosts.routes,
        plans.routes,
        openapi.routes,
        alerts.routes,
        rules.routes,
        webhooks.routes,
        stream.routes,
        metrics.routes,
        broker_instances.routes,
        broker_bindings.routes,
        console.routes,
    ):
        app.router.add_routes(table)
    openapi.install(app)
    console.install(app)

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        pool = await create_pool(settings.database_url)
        async with pool.acquire() as conn:
            applied = await migrate(conn)
        if applied:
            log.info("applied migrations: %s", ", ".join(applied))
        runner = PlaybookRunner(settings.project_dir, settings.runs_dir)
        svc = Services(
            settings=settings,
            pool=pool,
            box=SecretBox(settings.secret_keys),
            runner=runner,
            waiter=OperationWaiter(pool),
            egress=EgressPolicy.from_settings(settings),
            tokens=TokenCache(settings.token_cache_seconds),
            views=ViewCache(settings.view_cache_seconds),
            read_pool=await create_read_pool(settings.database_url),
            plans=load_plans(settings.plans_file),
        )
        app[SERVICES] = svc
        await hosts.reload_hosts(svc)
        await ensure_admin(pool, settings)
        await recover(pool, settings.runs_dir)
        await sweep_backups(pool, settings, svc.box)
        await svc.waiter.start()
        if settings.run_worker:
            svc.worker = Worker(pool, settings, svc.box, runner, svc.hosts)
            await svc.worker.start()
        monitor = HostMonitor(
            pool,
            runner,
            lambda: svc.hosts,
            owner=settings.worker_id,
            interval=settings.health_interval,
            cleanup_attempts=settings.cleanup_attempts,
        )
        monitor.start()
        app[MONITOR] = monitor
        pruner = RetentionJob(pool, settings, owner=settings.worker_id)
        pruner.start()
        schedules = BackupScheduler(
            pool,
            settings,
            BackupStore(settings.backup_dir, svc.box),
            owner=settings.worker_id,
            hosts=StoreHosts(runner, lambda: svc.hosts),
        )
        schedules.start()
        keeper: PoolKeeper | None = None
        if settings.pool_enabled:
            keeper = PoolKeeper(pool, settings, runner, lambda: svc.hosts, svc.box, owner=settings.worker_id)
            keeper.start()
        gateway.recorder.start(pool)
        deliveries: DeliveryLoop | None = None
        if settings.collect_interval > 0:
            svc.monitoring = Monitor(pool, settings, runner, lambda: svc.hosts, svc.box, gateway.registry)
            svc.monitoring.start()
            wake = svc.monitoring.wake_dispatch
        else:
            # Without monitoring, webhooks still get instance events.
            deliveries = DeliveryLoop(pool, EgressPolicy.from_settings(settings), svc.box)
            deliveries.start()
            wake = deliveries.wake
        hub = EventHub(
            settings.database_url,
            limit=settings.stream_limit,
            on_instance_event=wake,
            on_view_change=svc.views.notified,
        )
        svc.views.attach(hub.listening.is_set)
        await hub.start()
        app[stream.HUB] = hub
        _reload_on_sighup(svc)
        try:
            yield
        finally:
            await hub.stop()
            if deliveries is not None:
                await deliveries.stop()
            if svc.monitoring is not None:
                await svc.monitoring.stop()
            await gateway.recorder.stop()
            if keeper is not None:
                await keeper.stop()
            await schedules.stop()
            await pruner.stop()
            await monitor.stop()
            if svc.worker is not None:
                await svc.worker.stop()
            await svc.waiter.stop()
            if svc.read_pool is not None:
                await svc.read_pool.close()
            await pool.close()
            app[PASSWORDS].close()

    app.cleanup_ctx.append(lifecycle)
    return app
