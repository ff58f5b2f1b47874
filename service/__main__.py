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


def _logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)


def serve() -> None:
    from .app import build_app

    settings = load_settings()

    def listening(_text: str) -> None:
        # run_app calls this once the app has started (migrations, recovery, worker) and
        # the socket listens: the moment a Type=notify unit is ready.
        logging.getLogger("service").info(
            "serving on http://%s:%s", settings.listen_host, settings.listen_port
        )
        systemd.notify("READY=1")

    web.run_app(build_app(settings), host=settings.listen_host, port=settings.listen_port, print=listening)


async def _worker() -> None:
    """A worker without the HTTP API, for scaling out: any number share one PostgreSQL."""
    from .api.context import Services
    from .api.hosts import reload_hosts
    from .crypto import SecretBox
    from .monitoring.egress import EgressPolicy
    from .operations.recovery import recover, sweep_backups
    from .operations.runner import PlaybookRunner
    from .operations.waiter import OperationWaiter
    from .operations.worker import Worker

    settings = load_settings()
    pool = await create_pool(settings.database_url)
    async with pool.acquire() as conn:
        await migrate(conn)
    runner = PlaybookRunner(settings.project_dir, settings.runs_dir)
    svc = Services(
        settings=settings,
        pool=pool,
        box=SecretBox(settings.secret_keys),
        runner=runner,
        waiter=OperationWaiter(pool),
        egress=EgressPolicy.from_settings(settings),
    )
    await reload_hosts(svc)
    await recover(pool, settings.runs_dir)
    await sweep_backups(pool, settings, SecretBox(settings.secret_keys))
    worker = Worker(pool, settings, svc.box, runner, svc.hosts)
    await worker.start()
    svc.worker = worker
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    # SIGHUP re-reads the inventory, as it does for `serve` (without a handler it would end
    # the process: `systemctl reload` of a worker unit would kill it).
    reloads: set[asyncio.Task[None]] = set()

    async def reload_logged() -> None:
        try:
            await reload_hosts(svc)
        except Exception as exc:
            logging.getLogger("service").error("inventory reload on SIGHUP failed, keeping the old: %s", exc)

    def reload() -> None:
        task = loop.create_task(reload_logged())
        reloads.add(task)
        task.add_done_callback(reloads.discard)

    loop.add_signal_handler(signal.SIGHUP, reload)
    logging.getLogger("service").info("worker %s running", settings.worker_id)
    systemd.notify("READY=1")
    await stop.wait()
    systemd.notify("STOPPING=1")
    await worker.stop()
    await pool.close()


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
