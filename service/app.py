"""Builds the aiohttp Application: routes, middlewares, and what starts and stops with it."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

from aiohttp import web

from .api import auth, instances, openapi, operations, users
from .api.context import SERVICES, Services
from .api.errors import error_middleware
from .bootstrap import ensure_admin
from .config import Settings
from .crypto import SecretBox
from .db import hosts as hosts_repo
from .db.migrate import migrate
from .db.pool import create_pool
from .inventory import load_inventory
from .provisioning.recovery import recover
from .provisioning.runner import PlaybookRunner
from .provisioning.waiter import OperationWaiter
from .provisioning.worker import Worker

log = logging.getLogger(__name__)


async def load_hosts(svc: Services) -> None:
    """Read the inventory and record its hosts; hosts dropped from it stay flagged."""
    loaded = await load_inventory(svc.settings.inventory)
    async with svc.pool.acquire() as conn:
        await hosts_repo.sync(conn, loaded)
    svc.hosts = {h.name: h for h in loaded}
    if svc.worker is not None:
        svc.worker.update_hosts(svc.hosts)
    log.info("inventory %s: %d host(s): %s", svc.settings.inventory, len(loaded), ", ".join(svc.hosts))


def build_app(settings: Settings) -> web.Application:
    app = web.Application(middlewares=[error_middleware, auth.auth_middleware], client_max_size=64 * 1024)
    app[auth.THROTTLE] = auth.LoginThrottle()
    for table in (auth.routes, users.routes, instances.routes, operations.routes, openapi.routes):
        app.router.add_routes(table)

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
        )
        app[SERVICES] = svc
        await load_hosts(svc)
        await ensure_admin(pool, settings)
        await recover(pool, settings.runs_dir)
        await svc.waiter.start()
        if settings.run_worker:
            svc.worker = Worker(pool, settings, svc.box, runner, svc.hosts)
            await svc.worker.start()
        try:
            yield
        finally:
            if svc.worker is not None:
                await svc.worker.stop()
            await svc.waiter.stop()
            await pool.close()

    app.cleanup_ctx.append(lifecycle)
    return app
