"""What the benchmarks share: percentiles, real client connections, counting Ansible runs."""

from __future__ import annotations

import asyncio
import re
import time
from pathlib import Path
from typing import Any

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
