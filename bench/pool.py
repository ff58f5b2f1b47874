"""Benchmark: the warm pool. Create -> connectable with a warm pool and on the cold path
(pool off), bursts of concurrent creates against a pool of the same size, the refill of
that pool from empty (wall and CPU), each against a bare `docker run` of the same image
measured in the same run (PONG / a MySQL login; a burst against the same number of bare
containers started at once).

    .venv/bin/python bench/pool.py [--runs 10] [--burst 50] [--bursts 3]
    .venv/bin/python bench/pool.py --fleet [--hosts 3] [--burst 30] [--bursts 3]
    .venv/bin/python bench/pool.py --sizes [--runs 10]

--sizes: Redis creates of five sizes (maxmemory 16mb to 256mb, containers of 80 to 320 MB)
from a pool of one class only (320 MB: every smaller size is claimed from it) against the
cold path, same run.

Each service is its own process (own database, state, inventory; ports 24000-24899, bare
containers on 24900+; DBVEND_BENCH_PORT_BASE moves them). MySQL rows run when
MysqlEngine.slot_settings gives its default size a class. --fleet runs the bursts over
the netns testbed of bench/fleet.py, pools filled before each. Prints Markdown tables."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import docker
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import UNLIMITED, bare_redis_burst, percentile, wait_connectable, wait_pool  # noqa: E402
from bench.monitoring import cpu_seconds, remove_containers_under  # noqa: E402
from bench.provision import IMAGES, bare_docker_run  # noqa: E402
from tests.e2e.service_process import ServiceProcess, process_tree  # noqa: E402
from tests.helpers import create_database, drop_database, write_inventory  # noqa: E402

# DBVEND_BENCH_PORT_BASE moves the band (beside a test run using 21000-24999).
_BASE = int(os.environ.get("DBVEND_BENCH_PORT_BASE", "24000"))
PORTS = (_BASE, _BASE + 899)
BARE_PORT = _BASE + 900


def pooled_engines() -> list[str]:
    from service.engines import ENGINES

    found = []
    for name in ("redis", "mysql"):
        engine = ENGINES[name]
        if engine.slot_settings(engine.memory_mb(engine.parse_settings(None, instance_name="x"))) is not None:
            found.append(name)
    return found


async def connectable(engine: str, inst: dict[str, Any]) -> None:
    c = inst["connection"]
    await wait_connectable(engine, c["host"], c["port"], c["username"], c["password"], c.get("database"))


async def create(
    svc: ServiceProcess, engine: str, settings: dict[str, Any] | None = None
) -> tuple[float, dict[str, Any]]:
    """POST (?wait for the cold path's sake) -> a real client connects."""
    start = time.monotonic()
    body: dict[str, Any] = {"engine": engine, **({"settings": settings} if settings else {})}
    status, inst = await svc.call("POST", "/instances?wait=300", json=body)
    if status != 201:
        raise RuntimeError(f"create failed: {status} {inst}")
    await connectable(engine, inst)
    return time.monotonic() - start, inst


def tree_cpu(pid: int) -> float:
    """CPU of the service and of every process it runs now (each one's finished children are
    in its own cutime, so nothing counts twice)."""
    total = 0.0
    for p in process_tree(pid):
        with contextlib.suppress(OSError):
            total += cpu_seconds(p)
    return total


async def service(work: Path, url: str, inventory: Path, name: str, **env: str) -> ServiceProcess:
    svc = ServiceProcess(
        url,
        work / f"state-{name}",
        inventory,
        work / f"{name}.log",
        **UNLIMITED,
        DBVEND_COLLECT_INTERVAL="0",
        DBVEND_POOL_INTERVAL="1",
        **env,
    )
    await svc.start()
    return svc


def row(label: str, values: list[float], bare: list[float] | None, unit: str = "s") -> str:
    p50, p95 = statistics.median(values), percentile(values, 95)
    scale, fmt = (1000, "{:.0f} ms") if unit == "ms" else (1, "{:.2f} s")
    text = f"| {label} | {len(values)} | {fmt.format(p50 * scale)} | {fmt.format(p95 * scale)} |"
    if bare:
        b50 = statistics.median(bare)
        return text + f" {b50:.2f} s | {p50 / b50:.2f}x |"
    return text + " - | - |"


async def single_host(args: argparse.Namespace, work: Path) -> None:
    engines = pooled_engines()
    client = docker.from_env()
    bare: dict[str, list[float]] = {e: [] for e in ("redis", "mysql")}
    for engine in bare:
        for i in range(args.runs):
            bare[engine].append(await bare_docker_run(client, engine, BARE_PORT + i))
    client.close()

    local = docker.from_env()
    try:
        bare_burst = [
            await bare_redis_burst([(local, "127.0.0.1")], args.burst, IMAGES["redis"], BARE_PORT)
            for _ in range(args.bursts)
        ]
    finally:
        local.close()
    results: dict[str, Any] = {"engines": engines, "bare": bare, "bare_burst": bare_burst}
    size = max(args.runs, args.burst)
    pool = {"redis": size, **({"mysql": args.runs} if "mysql" in engines else {})}
    url = await create_database()
    inventory = write_inventory(work / "inv-warm", ports=PORTS, capacity_mb=1024 * 1024, pool=pool)
    svc = await service(work, url, inventory, "warm")
    try:
        assert svc.proc is not None
        cpu0, t0 = tree_cpu(svc.proc.pid), time.monotonic()
        await wait_pool(url, pool)
        results["refill"] = {
            "slots": sum(pool.values()),
            "wall": time.monotonic() - t0,
            "cpu": tree_cpu(svc.proc.pid) - cpu0,
        }
        for engine in engines:
            times = []
            for _ in range(args.runs):
                elapsed, inst = await create(svc, engine)
                times.append(elapsed)
                await svc.call("DELETE", f"/instances/{inst['id']}?wait=120")
            results[f"warm_{engine}"] = times
        walls, per_create = [], []
        for _ in range(args.bursts):
            await wait_pool(url, {"redis": args.burst})
            start = time.monotonic()
            made = await asyncio.gather(*(create(svc, "redis") for _ in range(args.burst)))
            walls.append(time.monotonic() - start)
            per_create += [t for t, _ in made]
            await asyncio.gather(*(svc.call("DELETE", f"/instances/{i['id']}?wait=300") for _, i in made))
        results["burst"] = {"n": args.burst, "wall": walls, "per_create": per_create}
    finally:
        await svc.stop()
        await drop_database(url)
        # Its pool's slots would hold the ports the cold service is given next.
        remove_containers_under(work)

    url = await create_database()
    inventory = write_inventory(work / "inv-cold", ports=PORTS, capacity_mb=1024 * 1024)
    svc = await service(work, url, inventory, "cold", DBVEND_POOL="off")
    try:
        for engine in ("redis", "mysql"):
            times = []
            for _ in range(args.runs):
                elapsed, inst = await create(svc, engine)
                times.append(elapsed)
                await svc.call("DELETE", f"/instances/{inst['id']}?wait=120")
            results[f"cold_{engine}"] = times
    finally:
        await svc.stop()
        await drop_database(url)

    print("\n| create -> connectable | n | p50 | p95 | bare docker run p50 | dbvend/bare |")
    print("|---|---|---|---|---|---|")
    for engine in ("redis", "mysql"):
        if f"warm_{engine}" in results:
            print(row(f"{engine}, warm pool", results[f"warm_{engine}"], bare[engine], "ms"))
        print(row(f"{engine}, cold path (DBVEND_POOL=off)", results[f"cold_{engine}"], bare[engine]))
        print(row(f"{engine}, bare `docker run`", bare[engine], None))
    b = results["burst"]
    print(f"\n| burst of {b['n']} concurrent redis creates | n | p50 | p95 | bare p50 | dbvend/bare |")
    print("|---|---|---|---|---|---|")
    bare_b50 = statistics.median(bare_burst)
    print(
        f"| API, pool of {size}: first POST -> all connectable | {len(b['wall'])}"
        f" | {statistics.median(b['wall']):.2f} s | {percentile(b['wall'], 95):.2f} s"
        f" | {bare_b50:.2f} s | {statistics.median(b['wall']) / bare_b50:.2f}x |"
    )
    print(
        f"| bare `docker run` of {b['n']} at once -> all connectable | {len(bare_burst)}"
        f" | {bare_b50:.2f} s | {percentile(bare_burst, 95):.2f} s | - | - |"
    )
    print(
        f"single create in the bursts: p50 {statistics.median(b['per_create']) * 1000:.0f} ms,"
        f" p95 {percentile(b['per_create'], 95) * 1000:.0f} ms"
    )
    r = results["refill"]
    print(
        f"refill of {r['slots']} slots from empty: wall {r['wall']:.1f} s,"
        f" CPU {r['cpu']:.1f} s (service + Ansible)"
    )
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / f"pool-{time.strftime('%Y%m%d-%H%M%S')}.json").write_text(json.dumps(results, indent=2))


async def from_pool(url: str, instance_id: str) -> int:
    """1 when the instance was a pool slot (claimed), else 0."""
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        return int(await conn.fetchval("SELECT count(*) FROM pool_slots WHERE id = $1", instance_id))
    finally:
        await conn.close()


SIZES = ("16mb", "32mb", "64mb", "128mb", "256mb")
SIZE_CLASS = 320  # the container of maxmemory 256mb: the one class the pool keeps


async def sizes(args: argparse.Namespace, work: Path) -> None:
    """Warm (a pool of the 320 MB class only) vs cold (DBVEND_POOL=off) Redis creates of
    five sizes, each create -> connectable, `runs` of each, deleted after."""
    from service.engines import get_engine

    engine = get_engine("redis")
    results: dict[str, dict[str, list[float]]] = {size: {} for size in SIZES}
    pool = {"redis": {SIZE_CLASS: args.runs}}
    url = await create_database()
    inventory = write_inventory(work / "inv-sizes-warm", ports=PORTS, capacity_mb=1024 * 1024, pool=pool)
    svc = await service(work, url, inventory, "sizes-warm")
    try:
        for size in SIZES:
            await wait_pool(url, {"redis": args.runs})
            times = []
            claimed = 0
            for _ in range(args.runs):
                elapsed, inst = await create(svc, "redis", {"maxmemory": size})
                times.append(elapsed)
                claimed += await from_pool(url, inst["id"])
                await svc.call("DELETE", f"/instances/{inst['id']}?wait=120")
            if claimed != args.runs:
                raise RuntimeError(f"{size}: {claimed} of {args.runs} creates were claimed from the pool")
            results[size]["warm"] = times
    finally:
        await svc.stop()
        await drop_database(url)
        remove_containers_under(work)
    url = await create_database()
    inventory = write_inventory(work / "inv-sizes-cold", ports=PORTS, capacity_mb=1024 * 1024)
    svc = await service(work, url, inventory, "sizes-cold", DBVEND_POOL="off")
    try:
        for size in SIZES:
            times = []
            for _ in range(args.runs):
                elapsed, inst = await create(svc, "redis", {"maxmemory": size})
                times.append(elapsed)
                await svc.call("DELETE", f"/instances/{inst['id']}?wait=120")
            results[size]["cold"] = times
    finally:
        await svc.stop()
        await drop_database(url)
    print("\n| Redis maxmemory (container) | n | warm p50 | warm p95 | cold p50 | cold p95 | cold/warm p50 |")
    print("|---|---|---|---|---|---|---|")
    for size in SIZES:
        warm, cold = results[size]["warm"], results[size]["cold"]
        mb = engine.memory_mb(engine.parse_settings({"maxmemory": size}, instance_name="x"))
        w50, c50 = statistics.median(warm), statistics.median(cold)
        print(
            f"| {size} ({mb} MB) | {len(warm)} | {w50 * 1000:.0f} ms | {percentile(warm, 95) * 1000:.0f} ms"
            f" | {c50:.2f} s | {percentile(cold, 95):.2f} s | {c50 / w50:.0f}x |"
        )
    print(f"warm: a pool of {args.runs} slots of the {SIZE_CLASS} MB class only; cold: DBVEND_POOL=off")
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / f"pool-sizes-{time.strftime('%Y%m%d-%H%M%S')}.json").write_text(json.dumps(results, indent=2))


async def fleet_burst(args: argparse.Namespace, work: Path) -> None:
    from bench.fleet import bare_burst, build_fleet
    from tests.fleet.conftest import fleet_testbed

    fleet = await asyncio.to_thread(build_fleet, args.hosts)
    url = await create_database()
    try:
        bare = [await bare_burst(fleet, args.burst, fleet.images[1]) for _ in range(args.bursts)]
        inventory_dir = work / "inv-fleet"
        inventory_dir.mkdir(parents=True)
        data = yaml.safe_load(await asyncio.to_thread(Path(fleet.inventory).read_text))
        per_host = -(-args.burst // args.hosts) + 1
        for host in _hosts(data).values():
            host["dbvend_pool"] = {"redis": per_host}
        (inventory_dir / "hosts.yml").write_text(yaml.safe_dump(data))
        shutil.copytree(ROOT / "inventory" / "group_vars", inventory_dir / "group_vars")
        svc = await service(work, url, inventory_dir / "hosts.yml", "fleet")
        walls: list[float] = []
        spreads: list[dict[str, int]] = []
        try:
            for _ in range(args.bursts):
                await wait_pool(url, {"redis": per_host * args.hosts})
                start = time.monotonic()
                made = await asyncio.gather(*(create(svc, "redis") for _ in range(args.burst)))
                walls.append(time.monotonic() - start)
                spread: dict[str, int] = {}
                for _, inst in made:
                    spread[inst["placement"]["host"]] = spread.get(inst["placement"]["host"], 0) + 1
                spreads.append(spread)
                await asyncio.gather(*(svc.call("DELETE", f"/instances/{i['id']}?wait=300") for _, i in made))
        finally:
            await svc.stop()
        b50 = statistics.median(bare)
        print(
            f"\n| fleet burst of {args.burst} over {args.hosts} hosts, pools filled"
            " | n | p50 | p95 | bare p50 | dbvend/bare |"
        )
        print("|---|---|---|---|---|---|")
        print(
            f"| API: first POST -> all connectable | {len(walls)} | {statistics.median(walls):.2f} s"
            f" | {percentile(walls, 95):.2f} s | {b50:.2f} s | {statistics.median(walls) / b50:.2f}x |"
        )
        print(
            f"| bare `docker run` over the same hosts -> all connectable | {len(bare)} | {b50:.2f} s"
            f" | {percentile(bare, 95):.2f} s | - | - |"
        )
        print(f"spread per burst: {spreads}")
    finally:
        await drop_database(url)
        if not args.keep:
            fleet_testbed("down")


def _hosts(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The inventory's dbvend_hosts hosts (top level or under all.children)."""
    group = data.get("dbvend_hosts") or data.get("all", {}).get("children", {}).get("dbvend_hosts", {})
    hosts: dict[str, dict[str, Any]] = group.get("hosts", {})
    for name in hosts:
        hosts[name] = hosts[name] or {}
    return hosts


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--burst", type=int, default=50)
    parser.add_argument("--bursts", type=int, default=3, help="bursts (and bare bursts) measured")
    parser.add_argument("--fleet", action="store_true", help="the burst over the netns fleet testbed")
    parser.add_argument("--hosts", type=int, default=3)
    parser.add_argument("--keep", action="store_true", help="--fleet: leave the fleet up")
    parser.add_argument("--sizes", action="store_true", help="warm vs cold for five Redis sizes")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="dbvend-bench-pool-"))
    try:
        if args.sizes:
            await sizes(args, work)
        elif args.fleet:
            await fleet_burst(args, work)
        else:
            await single_host(args, work)
    finally:
        remove_containers_under(work)


if __name__ == "__main__":
    asyncio.run(main())
