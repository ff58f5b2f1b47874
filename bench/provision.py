"""Benchmark: create -> connectable through the API, against a bare `docker run` of the
same image measured in the same run, plus a burst of concurrent creates.

    .venv/bin/python bench/provision.py [--runs 5] [--burst 20]

Starts its own service process (own database, state dir, inventory with ports
24000-24999) so it measures the real path: HTTP -> PostgreSQL -> worker -> ansible-runner
-> playbook -> container -> authenticated connection. Prints a Markdown table."""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import docker

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import UNLIMITED, create_runs, percentile, wait_connectable  # noqa: E402
from tests.e2e.service_process import ServiceProcess  # noqa: E402
from tests.helpers import create_database, drop_database, write_inventory  # noqa: E402

IMAGES = {"mysql": "dbvend/mariadb:10.11", "redis": "dbvend/redis:7.0"}


async def api_create(svc: ServiceProcess, engine: str) -> tuple[float, dict[str, Any]]:
    start = time.monotonic()
    status, inst = await svc.call("POST", "/instances?wait=180", json={"engine": engine})
    if status != 201:
        raise RuntimeError(f"create failed: {status} {inst}")
    c = inst["connection"]
    await wait_connectable(engine, c["host"], c["port"], c["username"], c["password"], c.get("database"))
    return time.monotonic() - start, inst


async def bare_docker_run(client: docker.DockerClient, engine: str, port: int) -> float:
    """The floor: the same image started directly, no API, no Ansible, no config files."""
    password = secrets.token_hex(16)
    name = f"dbvend-bench-bare-{secrets.token_hex(3)}"
    start = time.monotonic()
    if engine == "mysql":
        container = client.containers.run(
            IMAGES[engine],
            detach=True,
            name=name,
            ports={"3306/tcp": ("127.0.0.1", port)},
            environment={
                "MARIADB_ROOT_PASSWORD": password,
                "MARIADB_DATABASE": "app",
                "MARIADB_USER": "app",
                "MARIADB_PASSWORD": password,
            },
        )
        user, database = "app", "app"
    else:
        container = client.containers.run(
            IMAGES[engine],
            ["redis-server", "--requirepass", password],
            detach=True,
            name=name,
            ports={"6379/tcp": ("127.0.0.1", port)},
        )
        user, database = "default", None
    try:
        await wait_connectable(engine, "127.0.0.1", port, user, password, database)
        return time.monotonic() - start
    finally:
        container.remove(force=True, v=True)


def row(label: str, values: list[float], baseline: list[float] | None) -> str:
    p50, p95 = statistics.median(values), percentile(values, 95)
    if baseline:
        b50 = statistics.median(baseline)
        return f"| {label} | {len(values)} | {p50:.2f} s | {p95:.2f} s | {b50:.2f} s | {p50 / b50:.1f}x |"
    return f"| {label} | {len(values)} | {p50:.2f} s | {p95:.2f} s | - | - |"


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--burst", type=int, default=20)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="dbvend-bench-"))
    url = await create_database()
    inventory = write_inventory(work / "inventory", ports=(24000, 24999))
    svc = ServiceProcess(url, work / "state", inventory, work / "service.log", **UNLIMITED)
    client = docker.from_env()
    results: dict[str, Any] = {}
    try:
        await svc.start()
        for engine in ("redis", "mysql"):
            api_times, bare_times = [], []
            for i in range(args.runs):
                bare_times.append(await bare_docker_run(client, engine, 24900 + i))
                elapsed, inst = await api_create(svc, engine)
                api_times.append(elapsed)
                await svc.call("DELETE", f"/instances/{inst['id']}?wait=120")
            results[engine] = {"api": api_times, "bare": bare_times}

        runs_before = len(create_runs(work / "service.log"))
        start = time.monotonic()
        burst = await asyncio.gather(
            *(svc.call("POST", "/instances?wait=300", json={"engine": "redis"}) for _ in range(args.burst)),
            return_exceptions=True,
        )
        wall = time.monotonic() - start
        ok = [b for b in burst if not isinstance(b, BaseException) and b[0] == 201]
        conflicts = [b for b in burst if isinstance(b, BaseException) or b[0] != 201]
        ports = {b[1]["placement"]["port"] for b in ok}
        runs = len(create_runs(work / "service.log")) - runs_before
        results["burst"] = {
            "n": args.burst,
            "wall": wall,
            "ok": len(ok),
            "failed": len(conflicts),
            "distinct_ports": len(ports),
            "ansible_runs": runs,
        }
        await asyncio.gather(*(svc.call("DELETE", f"/instances/{b[1]['id']}?wait=120") for b in ok))
    finally:
        await svc.stop()
        client.close()
        await drop_database(url)

    print("\n| create -> connectable | n | p50 | p95 | bare docker run p50 | ratio |")
    print("|---|---|---|---|---|---|")
    print(row("redis via API (?wait)", results["redis"]["api"], results["redis"]["bare"]))
    print(row("mysql via API (?wait)", results["mysql"]["api"], results["mysql"]["bare"]))
    print(row("redis bare docker run", results["redis"]["bare"], None))
    print(row("mysql bare docker run", results["mysql"]["bare"], None))
    b = results["burst"]
    print(
        f"\nburst of {b['n']} concurrent redis creates: wall {b['wall']:.1f} s, {b['ok']} running, "
        f"{b['failed']} failed/conflicts, {b['distinct_ports']} distinct ports, "
        f"{b['ansible_runs']} Ansible runs"
    )
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / f"provision-{time.strftime('%Y%m%d-%H%M%S')}.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    asyncio.run(main())
