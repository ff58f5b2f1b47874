"""python -m service serve | worker | migrate | users create NAME [--admin]"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
import signal
import sys

from aiohttp import web

from . import crypto, systemd
from .config import ConfigError, load_settings
from .db import users
from .db.migrate import migrate
from .db.pool import create_pool
from .tls import server_context


def _logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)


def serve() -> None:
    from .app import build_app

    settings = load_settings()
    tls = settings.tls
    # DBVEND_TLS_CERT/KEY (checked with the settings): the API itself over HTTPS.
    https = server_context(tls.api_cert, tls.api_key) if tls.api_cert and tls.api_key else None

    def listening(_text: str) -> None:
        # run_app calls this once the app has started (migrations, recovery, worker) and
        # the socket listens: the moment a Type=notify unit is ready.
        scheme = "https" if https else "http"
        logging.getLogger("service").info(
            "serving on %s://%s:%s", scheme, settings.listen_host, settings.listen_port
        )
        systemd.notify(settings.notify_socket, "READY=1")

    web.run_app(
        build_app(settings),
        host=settings.listen_host,
        port=settings.listen_port,
        print=listening,
        ssl_context=https,
    )


async def _worker() -> None:
    """A worker without the HTTP API, for scaling out: any number share one PostgreSQL. It is
    built by the same build_runtime() as `serve`, with the worker's components only."""
    from .runtime import build_runtime

    settings = load_settings()
    runtime = build_runtime(settings, serve=False)
    async with runtime.running():
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        logging.getLogger("service").info("worker %s running", settings.worker_id)
        systemd.notify(settings.notify_socket, "READY=1")
        await stop.wait()
        systemd.notify(settings.notify_socket, "STOPPING=1")


async def _migrate() -> None:
    settings = load_settings()
    pool = await create_pool(settings.database_url, min_size=1, max_size=1)
    async with pool.acquire() as conn:
        applied = await migrate(conn)
    await pool.close()
    print("applied: " + (", ".join(applied) or "nothing, up to date"))


async def _create_user(name: str, admin: bool) -> int:
    settings = load_settings()
    password = (
        getpass.getpass(f"password for {name}: ") if sys.stdin.isatty() else sys.stdin.readline().strip()
    )
    if len(password) < 12:
        print("the password must be at least 12 characters", file=sys.stderr)
        return 2
    pool = await create_pool(settings.database_url, min_size=1, max_size=1)
    created = await users.create(pool, name, crypto.hash_password(password), is_admin=admin)
    await pool.close()
    if created is None:
        print(f"user {name} exists already", file=sys.stderr)
        return 1
    print(f"created {name}" + (" (admin)" if admin else ""))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m service")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("serve", help="run the API (and a worker unless DBVEND_WORKER=off)")
    sub.add_parser("worker", help="run a worker only")
    sub.add_parser("migrate", help="apply database migrations")
    users_cmd = sub.add_parser("users", help="manage users").add_subparsers(dest="action", required=True)
    create = users_cmd.add_parser("create", help="create a user; the password is read from stdin")
    create.add_argument("name")
    create.add_argument("--admin", action="store_true")
    args = parser.parse_args(argv)
    _logging()
    try:
        if args.command == "serve":
            serve()
        elif args.command == "worker":
            asyncio.run(_worker())
        elif args.command == "migrate":
            asyncio.run(_migrate())
        elif args.command == "users":
            return asyncio.run(_create_user(args.name, args.admin))
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
