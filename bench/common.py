"""What the benchmarks share: percentiles, real client connections, counting Ansible runs."""

from __future__ import annotations

import asyncio
import re
import secrets
import time
from pathlib import Path
from typing import Any

import asyncpg
import docker
import pymysql
import redis

# A benchmark's bursts run as one user (admin): lift the per-user quotas for them.
UNLIMITED = {"DBVEND_QUOTA_INSTANCES": "100000", "DBVEND_QUOTA_MEMORY_MB": str(16 * 1024 * 1024)}

# The worker logs one such line per provision.yml run it makes for creates.
CREATE_RUN = re.compile(r"provisioning (\d+) instance\(s\) in one run")


def percentile(values: list[float], pct: float) -> float:
    """Linear interpolation between closest ranks (numpy's default)."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = (len(ordered) - 1) * pct / 100
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def can_connect(engine: str, host: str, port: int, user: str, password: str, database: str | None) -> bool:
    try:
        if engine == "redis":
            client = redis.Redis(
                host=host,
                port=port,
                username=user,
                password=password,
                socket_timeout=2,
                socket_connect_timeout=2,
            )
            try:
                return bool(client.ping())
            finally:
                client.close()
        pymysql.connect(
            host=host, port=port, user=user, password=password, database=database, connect_timeout=2
        ).close()
        return True
    except Exception:
        return False


async def wait_connectable(
    engine: str, host: str, port: int, user: str, password: str, database: str | None, seconds: float = 120
) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if await asyncio.to_thread(can_connect, engine, host, port, user, password, database):
            return
        await asyncio.sleep(0.05)
    raise TimeoutError(f"{engine} on {host}:{port} never accepted a connection")


def create_runs(log: Path) -> list[int]:
    """Instances per create run, in the order the service logged them."""
    return [int(n) for n in CREATE_RUN.findall(log.read_text())] if log.exists() else []


def checkout(ref: str, into: Path) -> Path:
    """The tree of git `ref` (say `main`) extracted under `into`, for a "before" run of the
    service measured by the same benchmark in the same run; a directory is taken as is."""
    import subprocess

    if Path(ref).is_dir():
        return Path(ref).resolve()
    root = Path(__file__).resolve().parent.parent
    target = into / f"checkout-{re.sub(r'[^A-Za-z0-9_.-]', '_', ref)[:64]}"
    target.mkdir(parents=True, exist_ok=True)
    archive = subprocess.run(["git", "-C", str(root), "archive", ref], check=True, capture_output=True)
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive.stdout, check=True)
    return target


async def delete_instances(svc: Any, ids: list[str], *, batch: int = 25) -> None:
    """Delete the benchmark's instances through the service, `batch` at a time."""
    for first in range(0, len(ids), batch):
        await asyncio.gather(
            *(svc.call("DELETE", f"/instances/{iid}?wait=180") for iid in ids[first : first + batch])
        )


async def ready_slots(url: str, engine: str) -> int:
    conn = await asyncpg.connect(url)
    try:
        return int(
            await conn.fetchval(
                "SELECT count(*) FROM pool_slots WHERE status = 'ready' AND engine = $1", engine
            )
        )
    finally:
        await conn.close()


async def wait_pool(url: str, wanted: dict[str, int], seconds: float = 1800) -> float:
    start = time.monotonic()
    while time.monotonic() - start < seconds:
        counts = {e: await ready_slots(url, e) for e in wanted}
        if all(counts[e] >= n for e, n in wanted.items()):
            return time.monotonic() - start
        await asyncio.sleep(0.25)
    raise TimeoutError(f"pool not filled to {wanted}")


async def bare_redis_burst(
    engines: list[tuple[docker.DockerClient, str]], n: int, image: str, first_port: int
) -> float:
    """n Redis containers started at once, round-robin over (engine, host address); seconds
    until every one answers an authenticated PING through its address. Removed after."""
    password = secrets.token_hex(16)
    started: list[Any] = []

    async def one(i: int) -> None:
        client, address = engines[i % len(engines)]
        port = first_port + i
        container = await asyncio.to_thread(
            client.containers.run,
            image,
            ["redis-server", "--requirepass", password],
            detach=True,
            name=f"dbvend-bench-bare-{secrets.token_hex(3)}",
            ports={"6379/tcp": (address, port)},
        )
        started.append(container)
        await wait_connectable("redis", address, port, "default", password, None)

    start = time.monotonic()
    try:
        await asyncio.gather(*(one(i) for i in range(n)))
        return time.monotonic() - start
    finally:
        for container in started:
            await asyncio.to_thread(container.remove, force=True, v=True)
