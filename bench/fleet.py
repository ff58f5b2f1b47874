"""Benchmark: a burst of concurrent creates across a fleet of Docker hosts reached over SSH,
against a bare `docker run` of as many containers on the same hosts measured in the same run.

    .venv/bin/python bench/fleet.py [--hosts 3] [--burst 30] [--rounds 3] [--engine redis] [--keep]

Builds the fleet with `scripts/fleet-testbed.sh up N` (network namespaces, each with its own
sshd and dockerd), loads the images with playbooks/prepare_host.yml, starts its own service
process on that inventory and measures, per round: the wall time from the first POST to the
last 201 (`?wait`), to the last instance answering a real client through its host's address,
how many provision.yml runs the worker made and how the instances spread over the hosts.
Tears the fleet down at the end unless --keep. Prints Markdown tables."""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


from bench.common import UNLIMITED, bare_redis_burst, create_runs, percentile, wait_connectable  # noqa: E402
from tests.e2e.service_process import ServiceProcess  # noqa: E402
from tests.fleet.conftest import Fleet, fleet_testbed, prepared_fleet  # noqa: E402
from tests.helpers import create_database, drop_database  # noqa: E402

# Bare containers use the top of the fleet's port range (20000-20999); the service starts at
# the bottom and the bare ones are gone before it runs.
BARE_PORT = 20900


def build_fleet(n: int) -> Fleet:
    up = fleet_testbed("up", str(n))
    if up.returncode != 0:
        raise RuntimeError(f"fleet-testbed.sh up {n} failed:\n{up.stdout[-4000:]}")
    return prepared_fleet()


async def bare_burst(fleet: Fleet, n: int, image: str) -> float:
    """The floor: n Redis containers started directly on the hosts' engines, round-robin, in
    parallel; seconds until every one answers an authenticated PING through its host address."""
    clients = [(fleet.docker(h.name), h.address) for h in fleet.hosts]
    try:
        return await bare_redis_burst(clients, n, image, BARE_PORT)
    finally:
        for client, _ in clients:
            client.close()


async def api_burst(svc: ServiceProcess, log: Path, n: int, engine: str) -> dict[str, Any]:
    runs_before = len(create_runs(log))
    start = time.monotonic()

    async def one() -> tuple[float, dict[str, Any]]:
        status, inst = await svc.call("POST", "/instances?wait=300", json={"engine": engine})
        if status != 201:
            raise RuntimeError(f"create failed: {status} {inst}")
        return time.monotonic() - start, inst

    created = await asyncio.gather(*(one() for _ in range(n)))
    wall = time.monotonic() - start
    insts = [inst for _, inst in created]
    await asyncio.gather(
        *(
            wait_connectable(
                engine,
                i["connection"]["host"],
                i["connection"]["port"],
                i["connection"]["username"],
                i["connection"]["password"],
                i["connection"].get("database"),
            )
            for i in insts
        )
    )
    connectable = time.monotonic() - start
    runs = create_runs(log)[runs_before:]
    spread = Counter(i["placement"]["host"] for i in insts)
    addresses = {i["placement"]["host"]: i["connection"]["host"] for i in insts}
    placements = {(i["placement"]["host"], i["placement"]["port"]) for i in insts}
    result = {
        "n": n,
        "wall": wall,
        "connectable": connectable,
        "per_create": [t for t, _ in created],
        "runs": runs,
        "spread": dict(sorted(spread.items())),
        "addresses": addresses,
        "distinct_placements": len(placements),
    }
    status_codes = await asyncio.gather(
        *(svc.call("DELETE", f"/instances/{i['id']}?wait=300") for i in insts)
    )
    result["deleted"] = sum(1 for status, _ in status_codes if status == 204)
    return result


def service_for(fleet: Fleet, work: Path, url: str) -> ServiceProcess:
    inventory_dir = work / "inventory"
    inventory_dir.mkdir(parents=True)
    shutil.copy(fleet.inventory, inventory_dir / "hosts.yml")
    shutil.copytree(ROOT / "inventory" / "group_vars", inventory_dir / "group_vars")
    return ServiceProcess(url, work / "state", inventory_dir / "hosts.yml", work / "service.log", **UNLIMITED)


def report(bare: list[float], rounds: list[dict[str, Any]], hosts: int, engine: str) -> None:
    walls = [r["wall"] for r in rounds]
    conns = [r["connectable"] for r in rounds]
    per_create = [t for r in rounds for t in r["per_create"]]
    b50 = statistics.median(bare)
    n = rounds[0]["n"]
    print(f"\n| burst of {n} {engine} creates over {hosts} hosts | rounds | p50 | p95 | ratio to bare p50 |")
    print("|---|---|---|---|---|")
    for label, values in (
        ("API: first POST -> last 201 (`?wait`)", walls),
        ("API: first POST -> all connectable", conns),
        ("bare `docker run` on the same hosts -> all connectable", bare),
    ):
        p50 = statistics.median(values)
        print(
            f"| {label} | {len(values)} | {p50:.1f} s | {percentile(values, 95):.1f} s | {p50 / b50:.1f}x |"
        )
    print(
        f"\nsingle create inside the burst: p50 {statistics.median(per_create):.1f} s, "
        f"p95 {percentile(per_create, 95):.1f} s (n={len(per_create)})"
    )
    print("\n| round | Ansible create runs (instances per run) | spread per host | distinct host:port |")
    print("|---|---|---|---|")
    for i, r in enumerate(rounds, 1):
        runs = ", ".join(str(x) for x in r["runs"])
        spread = ", ".join(f"{h} {c}" for h, c in r["spread"].items())
        print(f"| {i} | {len(r['runs'])} ({runs}) | {spread} | {r['distinct_placements']}/{r['n']} |")


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--hosts", type=int, default=3)
    parser.add_argument("--burst", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--engine", choices=("redis", "mysql"), default="redis")
    parser.add_argument("--keep", action="store_true", help="leave the fleet up afterwards")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="dbvend-bench-fleet-"))
    started = time.monotonic()
    fleet = await asyncio.to_thread(build_fleet, args.hosts)
    print(f"fleet of {args.hosts} up and prepared in {time.monotonic() - started:.0f} s", flush=True)
    url = await create_database()
    svc = service_for(fleet, work, url)
    bare: list[float] = []
    rounds: list[dict[str, Any]] = []
    try:
        redis_image = fleet.images[1]
        for i in range(args.rounds):
            bare.append(await bare_burst(fleet, args.burst, redis_image))
            print(f"round {i + 1}: bare {bare[-1]:.1f} s", flush=True)
        await svc.start()
        for i in range(args.rounds):
            rounds.append(await api_burst(svc, work / "service.log", args.burst, args.engine))
            r = rounds[-1]
            print(
                f"round {i + 1}: API {r['wall']:.1f} s to the last 201, "
                f"{r['connectable']:.1f} s connectable, "
                f"runs {r['runs']}, spread {r['spread']}, deleted {r['deleted']}/{r['n']}",
                flush=True,
            )
            await asyncio.sleep(2)  # let the deletes' port releases settle between rounds
    finally:
        await svc.stop()
        await drop_database(url)
        if not args.keep:
            fleet_testbed("down")

    report(bare, rounds, args.hosts, args.engine)
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    (out / f"fleet-{stamp}.json").write_text(json.dumps({"bare": bare, "rounds": rounds}, indent=2))


if __name__ == "__main__":
    asyncio.run(main())
