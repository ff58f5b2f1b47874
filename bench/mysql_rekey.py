"""Benchmark: claiming a ready MariaDB pool slot, the engine's part of a warm create:
MysqlEngine.rekey (wipe, database, account from a hash, grant, SET GLOBAL as the claim
account) plus the readiness check the create runs (connect as the new account, SELECT
VERSION()), against a bare connect + SELECT VERSION() to the same server.

    .venv/bin/python bench/mysql_rekey.py [--runs 10]

Deploys one slot with playbooks/provision.yml as the pool keeper does (dbvend_pool_slot),
re-keys it --runs times with a new tenant each time (a rekey drops what the previous one
made), prints p50/p95 in ms, and deprovisions it."""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import docker
import pymysql

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from service.engines import Rekey, get_engine  # noqa: E402
from service.engines.base import Credentials, random_password, random_username  # noqa: E402
from service.engines.mysql_rekey import CLAIM_ACCOUNT  # noqa: E402
from tests.roles.conftest import Deployer  # noqa: E402

mysql = get_engine("mysql")


def wait_for_claim_account(port: int, admin: str) -> None:
    deadline = time.monotonic() + 180
    while True:
        try:
            pymysql.connect(host="127.0.0.1", port=port, user=CLAIM_ACCOUNT, password=admin).close()
            return
        except pymysql.err.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def bare_version(port: int, admin: str) -> None:
    conn = pymysql.connect(host="127.0.0.1", port=port, user="dbvend_monitor", password=admin)
    with conn.cursor() as cursor:
        cursor.execute("SELECT VERSION()")
    conn.close()


async def claim(port: int, slot: Any, admin: str, n: int) -> tuple[float, float]:
    settings = mysql.parse_settings(
        {"charset": "latin1" if n % 2 else "utf8mb4", "database": f"db_{n}", "max_connections": 100 + n},
        instance_name="bench",
    )
    credentials = Credentials(random_username(), random_password(), admin)
    start = time.perf_counter()
    await mysql.rekey(Rekey("127.0.0.1", port, slot, settings, credentials), 10)
    rekeyed = time.perf_counter()
    await mysql.server_version(mysql.connection(settings, credentials, "127.0.0.1", port), 10)
    return rekeyed - start, time.perf_counter() - start


def pct(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    client = docker.from_env()
    with tempfile.TemporaryDirectory(prefix="dbvend-bench-rekey-") as tmp:
        deployer = Deployer(Path(tmp), client)
        slot_id = deployer.new_id("bench")
        port = deployer.free_port()
        admin = random_password()
        slot = mysql.slot_settings(256)
        assert slot is not None
        slot_credentials = Credentials(random_username(), random_password(), admin)
        variables = {
            "engine": "mysql",
            "instance_id": slot_id,
            "port": port,
            "dbvend_wait_ready": False,
            "dbvend_pool_slot": True,
            **mysql.role_vars(slot, slot_credentials),
        }
        try:
            run = deployer.playbook("provision.yml", variables)
            assert run.rc == 0, run.output[-3000:]
            wait_for_claim_account(port, admin)
            rekeys, totals, bare = [], [], []
            for n in range(args.runs):
                rekey_s, total_s = asyncio.run(claim(port, slot, admin, n))
                rekeys.append(rekey_s)
                totals.append(total_s)
                start = time.perf_counter()
                bare_version(port, admin)
                bare.append(time.perf_counter() - start)
        finally:
            deployer.cleanup()
            client.close()
    print(f"MariaDB slot claim, {args.runs} runs (ms)")
    print("| step | p50 | p95 |")
    print("|---|---|---|")
    for name, values in (
        ("rekey (claim account: wipe, database, account, grant, SET GLOBAL)", rekeys),
        ("rekey + readiness (connect as the new account, SELECT VERSION())", totals),
        ("bare: connect + SELECT VERSION() (monitor account)", bare),
    ):
        print(f"| {name} | {pct(values, 50):.1f} | {pct(values, 95):.1f} |")


if __name__ == "__main__":
    main()
