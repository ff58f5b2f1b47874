"""Benchmark: backup and restore of a 1 GiB dataset through the service, against a plain
`mariadb-dump` / `redis-cli --rdb` of the same data in the same run.

    .venv/bin/python bench/backup.py [--runs 3] [--mib 1024]

Starts its own service process (own database, state dir, inventory with ports
24000-24999), creates one Redis instance (1024 keys of 1 MiB random bytes) and one MariaDB
instance (a table of 1024 rows of 1 MiB random hex text), then per run:

- service backup: POST /instances/{id}/backups?wait (dump on the host, fetch, checksum,
  encrypt into the store); service restore: POST /instances/{id}/restore?wait (decrypt,
  copy, checksum, swap the data in place, start, check);
- plain backup: `docker exec <container> mariadb-dump ... | file` and
  `docker exec <container> redis-cli --rdb -` to a file on this machine; plain restore:
  `docker exec -i <container> mariadb < file` and a bare redis-server container started on
  the RDB, timed until it answers (Redis answers only once the RDB is loaded).

MB/s is the dataset's size (MiB of user data) over the seconds each step took, so the
columns compare; the backup file sizes are printed too. Prints a Markdown table of medians."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import asyncpg
import docker
import pymysql
import redis

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import UNLIMITED, wait_connectable  # noqa: E402
from service.engines.redis_client import ADMIN_ACCOUNT  # noqa: E402
from tests.e2e.service_process import ServiceProcess, free_port  # noqa: E402
from tests.helpers import (  # noqa: E402
    admin_password_of,
    create_database,
    dbvend_containers,
    drop_database,
    write_inventory,
)

MIB = 1024 * 1024
WAIT = 1800  # seconds a backup or restore of the dataset may take on a loaded box


def load_redis(c: dict[str, Any], mib: int) -> None:
    client = redis.Redis(host=c["host"], port=c["port"], username=c["username"], password=c["password"])
    try:
        for start in range(0, mib, 32):
            pipe = client.pipeline(transaction=False)
            for n in range(start, min(start + 32, mib)):
                pipe.set(f"k{n:05d}", os.urandom(MIB))
            pipe.execute()
        assert client.dbsize() == mib
    finally:
        client.close()


def load_mysql(c: dict[str, Any], mib: int) -> None:
    conn = pymysql.connect(
        host=c["host"], port=c["port"], user=c["username"], password=c["password"], database=c["database"]
    )
    try:
        with conn.cursor() as cur:
            cur.execute("CREATE TABLE blobs (id INT PRIMARY KEY, v LONGTEXT NOT NULL) ENGINE=InnoDB")
            for n in range(mib):
                cur.execute("INSERT INTO blobs VALUES (%s, %s)", (n, os.urandom(MIB // 2).hex()))
                if n % 64 == 63:
                    conn.commit()
        conn.commit()
    finally:
        conn.close()


def container_of(client: docker.DockerClient, instance_id: str) -> str:
    found = dbvend_containers(client, instance_id)
    assert len(found) == 1, found
    return str(found[0].name)


def timed_shell(argv: list[str], *, stdin: Path | None = None, stdout: Path | None = None) -> float:
    start = time.monotonic()
    with (
        open(stdin, "rb") if stdin else open(os.devnull, "rb") as src,
        open(stdout, "wb") if stdout else open(os.devnull, "wb") as dst,
    ):
        subprocess.run(argv, stdin=src, stdout=dst, check=True)
    return time.monotonic() - start


def plain_mysql_backup(container: str, database: str, out: Path) -> float:
    dump = ["mariadb-dump", "-uroot", "--single-transaction", "--routines", "--triggers", "--events"]
    return timed_shell(["docker", "exec", container, *dump, database], stdout=out)


def plain_mysql_restore(container: str, database: str, dump: Path) -> float:
    return timed_shell(["docker", "exec", "-i", container, "mariadb", "-uroot", database], stdin=dump)


def plain_redis_backup(container: str, admin_password: str, out: Path) -> float:
    # The password goes in the environment of the exec, never on a command line.
    argv = ["docker", "exec", "-e", f"REDISCLI_AUTH={admin_password}", container]
    return timed_shell([*argv, "redis-cli", "--user", ADMIN_ACCOUNT, "--rdb", "-"], stdout=out)


async def plain_redis_restore(client: docker.DockerClient, rdb: Path, keys: int) -> float:
    """A bare redis-server started on the RDB: answers PING only once it has loaded it."""
    port = free_port()
    work = Path(tempfile.mkdtemp(prefix="dbvend-bench-rdb-"))
    shutil.copyfile(rdb, work / "dump.rdb")  # streamed, not read into memory
    os.chmod(work, 0o755)  # noqa: S103 -- the image's redis user only reads it (--save "" below)
    os.chmod(work / "dump.rdb", 0o644)
    start = time.monotonic()
    container = client.containers.run(
        "dbvend/redis:7.0",
        # protected mode off: the server is reached only through its loopback-published port
        [
            "redis-server",
            *("--dir", "/data", "--dbfilename", "dump.rdb", "--appendonly", "no", "--save", ""),
            *("--protected-mode", "no"),
        ],
        detach=True,
        name=f"dbvend-bench-rdb-{secrets.token_hex(3)}",
        ports={"6379/tcp": ("127.0.0.1", port)},
        volumes={str(work): {"bind": "/data", "mode": "rw"}},
    )
    try:
        probe = redis.Redis(host="127.0.0.1", port=port, socket_timeout=30)
        while True:
            try:
                if probe.dbsize() == keys:
                    break
            except (redis.ConnectionError, redis.BusyLoadingError):
                pass
            if time.monotonic() - start > WAIT:
                raise TimeoutError("the plain redis-server never loaded the RDB")
            await asyncio.sleep(0.05)
        return time.monotonic() - start
    finally:
        container.remove(force=True, v=True)
        await asyncio.to_thread(shutil.rmtree, work)


async def service_backup(svc: ServiceProcess, instance_id: str) -> tuple[float, dict[str, Any]]:
    start = time.monotonic()
    status, body = await svc.call("POST", f"/instances/{instance_id}/backups?wait={WAIT}")
    elapsed = time.monotonic() - start
    if status not in (200, 201) or body.get("status") != "completed":
        raise RuntimeError(f"backup failed: {status} {body}")
    return elapsed, body


async def service_restore(svc: ServiceProcess, instance_id: str, backup_id: str) -> float:
    start = time.monotonic()
    status, body = await svc.call(
        "POST", f"/instances/{instance_id}/restore?wait={WAIT}", json={"backup_id": backup_id}
    )
    elapsed = time.monotonic() - start
    if status != 200:
        raise RuntimeError(f"restore failed: {status} {body}")
    return elapsed


def line(label: str, seconds: list[float], mib: int, size: list[int]) -> str:
    s = statistics.median(seconds)
    return (
        f"| {label} | {len(seconds)} | {s:.1f} s | {mib / s:.1f} | {statistics.median(size) / MIB:.0f} MiB |"
    )


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--mib", type=int, default=1024, help="dataset size per engine, MiB")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="dbvend-bench-backup-"))
    url = await create_database()
    inventory = write_inventory(work / "inventory", ports=(24000, 24999))
    svc = ServiceProcess(
        url, work / "state", inventory, work / "service.log", **UNLIMITED, DBVEND_MAX_WAIT=str(WAIT)
    )
    client = docker.from_env()
    results: dict[str, dict[str, list[float]]] = {}
    sizes: dict[str, dict[str, list[int]]] = {}
    instances: list[str] = []
    db = None
    try:
        await svc.start()
        db = await asyncpg.connect(url)
        specs = {
            "redis": {"maxmemory": f"{args.mib + 512}mb"},
            "mysql": {"memory_mb": 1024},
        }
        for engine, settings in specs.items():
            status, inst = await svc.call(
                "POST", "/instances?wait=300", json={"engine": engine, "settings": settings}
            )
            if status != 201:
                raise RuntimeError(f"create failed: {status} {inst}")
            instances.append(inst["id"])
            c = inst["connection"]
            await wait_connectable(
                engine, c["host"], c["port"], c["username"], c["password"], c.get("database")
            )
            started = time.monotonic()
            await asyncio.to_thread(load_redis if engine == "redis" else load_mysql, c, args.mib)
            print(f"{engine}: loaded {args.mib} MiB in {time.monotonic() - started:.0f} s", flush=True)
            container = container_of(client, inst["id"])
            admin = await admin_password_of(db, work / "state", inst["id"])
            r = results[engine] = {
                "svc_backup": [],
                "svc_restore": [],
                "plain_backup": [],
                "plain_restore": [],
            }
            z = sizes[engine] = {"svc": [], "plain": []}
            for run in range(args.runs):
                plain = work / f"plain-{engine}-{run}"
                if engine == "mysql":
                    r["plain_backup"].append(plain_mysql_backup(container, c["database"], plain))
                else:
                    r["plain_backup"].append(plain_redis_backup(container, admin, plain))
                z["plain"].append(plain.stat().st_size)
                seconds, backup = await service_backup(svc, inst["id"])
                r["svc_backup"].append(seconds)
                z["svc"].append(int(backup["size_bytes"]))
                r["svc_restore"].append(await service_restore(svc, inst["id"], backup["id"]))
                if engine == "mysql":
                    r["plain_restore"].append(plain_mysql_restore(container, c["database"], plain))
                else:
                    r["plain_restore"].append(await plain_redis_restore(client, plain, args.mib))
                plain.unlink()
                await svc.call("DELETE", f"/backups/{backup['id']}")
                steps = ", ".join(f"{k} {v[-1]:.1f} s" for k, v in r.items())
                print(f"{engine} run {run + 1}: {steps}", flush=True)
    finally:
        for instance_id in instances:
            await svc.call("DELETE", f"/instances/{instance_id}?wait=300")
        if db is not None:
            await db.close()
        await svc.stop()
        client.close()
        await drop_database(url)

    print(f"\nmachine: {platform.node()}, {os.cpu_count()} CPUs, {platform.platform()}")
    print(f"dataset: {args.mib} MiB per engine; MB/s = dataset MiB / seconds; medians of {args.runs} runs\n")
    print("| step | n | median | MiB/s | file |")
    print("|---|---|---|---|---|")
    for engine, tool in (("redis", "redis-cli --rdb"), ("mysql", "mariadb-dump")):
        r, z = results[engine], sizes[engine]
        print(line(f"{engine} backup via service", r["svc_backup"], args.mib, z["svc"]))
        print(line(f"{engine} backup, plain {tool}", r["plain_backup"], args.mib, z["plain"]))
        print(line(f"{engine} restore via service (in place)", r["svc_restore"], args.mib, z["svc"]))
        plain_restore = "bare redis-server loading the RDB" if engine == "redis" else "mariadb < dump"
        print(line(f"{engine} restore, plain {plain_restore}", r["plain_restore"], args.mib, z["plain"]))
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / f"backup-{time.strftime('%Y%m%d-%H%M%S')}.json").write_text(
        json.dumps({"results": results, "sizes": sizes}, indent=2)
    )


if __name__ == "__main__":
    asyncio.run(main())
