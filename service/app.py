"""The HTTP side of `serve`: the aiohttp Application with every domain's routes, the
middlewares, and the runtime (service/runtime.py) that starts and stops with it."""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from .accounts import endpoints as accounts
from .accounts import token_endpoints as tokens
from .accounts import user_endpoints as users
from .accounts.middleware import auth_middleware
from .backups import endpoints as backups
from .broker import bindings as broker_bindings
from .broker import instances as broker_instances
from .broker.protocol import broker_middleware, osb_response
from .broker.services import SERVICES as BROKER
from .broker.services import Broker
from .certificates import endpoints as certificates
from .config import Settings
from .credentials import endpoints as credentials
from .events import endpoints as events
from .events import stream
from .fleet import endpoints as fleet
from .instances import day2_endpoints as instance_actions
from .instances import endpoints as instances
from .monitoring import alert_endpoints as alerts
from .monitoring import metrics_endpoints as metrics
from .monitoring import rule_endpoints as rules
from .monitoring import webhook_endpoints as webhooks
from .monitoring.gateway import GATEWAY
from .plans import endpoints as plans
from .runtime import Runtime, build_runtime
from .web import console, openapi
from .web.edge import edge_middleware
from .web.errors import error_middleware

RUNTIME = web.AppKey("runtime", Runtime)


def build_app(settings: Settings) -> web.Application:
    runtime = build_runtime(settings, serve=True)
    # The gateway collector wraps the error middleware, so it sees every final status.
    app = web.Application(
        middlewares=[
            runtime.gateway.middleware(),
            error_middleware({"/v2": osb_response}),
            edge_middleware,
            broker_middleware(settings.broker),
            auth_middleware(accounts.accounts),
        ],
        client_max_size=64 * 1024,
    )
    app[RUNTIME] = runtime
    app[GATEWAY] = runtime.gateway
    app[accounts.SERVICE] = runtime.accounts
    app[accounts.THROTTLE] = runtime.accounts.throttle
    app[accounts.PASSWORDS] = runtime.passwords
    app[instances.SERVICE] = runtime.instances
    app[credentials.SERVICE] = runtime.credentials
    app[backups.SERVICE] = runtime.backups
    app[plans.SERVICE] = runtime.plans
    app[fleet.SERVICE] = runtime.fleet
    app[alerts.SERVICE] = runtime.monitoring_service
    app[events.SERVICE] = runtime.events
    app[certificates.SERVICE] = runtime.certificates
    app[stream.HUB] = runtime.hub
    app[BROKER] = Broker(runtime.ctx, runtime.instances, runtime.credentials, runtime.plans, runtime.accounts)
    for table in (
        accounts.routes,
        tokens.routes,
        users.routes,
        instances.routes,
        instance_actions.routes,
        credentials.routes,
        backups.routes,
        fleet.routes,
        plans.routes,
        openapi.routes,
        alerts.routes,
        events.routes,
        rules.routes,
        webhooks.routes,
        stream.routes,
        metrics.routes,
        certificates.routes,
        broker_instances.routes,
        broker_bindings.routes,
        console.routes,
    ):
        app.router.add_routes(table)
    openapi.install(app)
    console.install(app)

    async def lifecycle(_app: web.Application) -> AsyncIterator[None]:
        async with runtime.running():
            yield

    app.cleanup_ctx.append(lifecycle)
    return app
