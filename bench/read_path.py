"""Benchmark: the read path. One service process (own database, state dir and inventory with
ports 26000-26999, monitoring on at its default interval) gets N small Redis instances,
then `wrk -t2 -c16` measures, in one run and against the same instances:

  - a bare aiohttp handler returning a small JSON (the floor of this machine and Python),
  - GET /api/v1/me, GET /api/v1/instances/{id} (one, and all N in turn),
    GET /api/v1/instances?limit=50,

each --repeat times (the medians are printed): req/s, p50, p95, p99, req/s as a ratio of the
bare handler's. With --before REF the same measurements are first made against the service
of git ref REF (say `main`), on the same instances and database, then against this tree.

    .venv/bin/python bench/read_path.py [--instances 100] [--duration 10] [--repeat 3] [--before main]
        [--uncached]

--uncached also measures this tree with its view cache off (DBVEND_VIEW_CACHE_SECONDS=0): the
cost of a read the cache cannot answer. "ids in turn" walks over every instance's detail.

Needs wrk (`apt-get install -y wrk`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import UNLIMITED, checkout, delete_instances  # noqa: E402
from bench.monitoring import create_instances, remove_containers_under  # noqa: E402
from tests.e2e.service_process import ServiceProcess, free_port  # noqa: E402
from tests.helpers import create_database, drop_database, write_inventory  # noqa: E402

# wrk's own percentiles, printed as one JSON line when a run ends.
WRK_SCRIPT = r"""
local token = os.getenv("BENCH_TOKEN")
if token and token ~= "" then wrk.headers["Authorization"] = "Bearer " .. token end
-- BENCH_PATHS (comma-separated): each connection walks through them in turn.
local paths = {}
for p in string.gmatch(os.getenv("BENCH_PATHS") or "", "[^,]+") do table.insert(paths, p) end
if #paths > 0 then
  local n = 0
  request = function()
    n = n + 1
    return wrk.format(nil, paths[(n % #paths) + 1])
  end
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH {"requests": %d, "duration_us": %d, "errors": %d, "non2xx": %d,'
    .. ' "p50_us": %d, "p95_us": %d, "p99_us": %d}\n',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50), latency:percentile(95), latency:percentile(99)))
end
"""

BARE = """
import sys
from aiohttp import web

async def handler(request):
    return web.json_response({"id": "i-00000000", "status": "running", "port": 26000})

app = web.Application()
app.router.add_get("/bare", handler)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None)
"""


@dataclass
class Run:
    rps: float
    p50: float  # ms
    p95: float
    p99: float
    errors: int


def wrk(url: str, token: str, script: Path, duration: float, paths: tuple[str, ...] = ()) -> Run:
    out = subprocess.run(
        ["wrk", "-t2", "-c16", f"-d{duration:g}s", "-s", str(script), url],
        env={**os.environ, "BENCH_TOKEN": token, "BENCH_PATHS": ",".join(paths)},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    line = next(x for x in out.splitlines() if x.startswith("BENCH "))
    data = json.loads(line[len("BENCH ") :])
    return Run(
        rps=data["requests"] / (data["duration_us"] / 1e6),
        p50=data["p50_us"] / 1000,
        p95=data["p95_us"] / 1000,
        p99=data["p99_us"] / 1000,
        errors=data["errors"] + data["non2xx"],
    )


def median_run(runs: list[Run]) -> Run:
    return Run(
        statistics.median(r.rps for r in runs),
        statistics.median(r.p50 for r in runs),
        statistics.median(r.p95 for r in runs),
        statistics.median(r.p99 for r in runs),
        sum(r.errors for r in runs),
    )


# A target: a URL, or a URL whose host is used with paths walked through in turn.
Target = str | tuple[str, tuple[str, ...]]


async def measure(
    label: str, targets: dict[str, Target], token: str, script: Path, duration: float, repeat: int
) -> dict[str, Run]:
    """Round-robin over the targets, `repeat` times, so a load spike from elsewhere on the
    machine spreads over all of them rather than hitting one."""
    runs: dict[str, list[Run]] = {name: [] for name in targets}
    for _ in range(repeat):
        for name, target in targets.items():
            url, paths = (target, ()) if isinstance(target, str) else target
            runs[name].append(await asyncio.to_thread(wrk, url, token, script, duration, paths))
    result = {name: median_run(r) for name, r in runs.items()}
    for name, r in runs.items():
        print(f"  {label} {name}: " + ", ".join(f"{x.rps:.0f} req/s p99 {x.p99:.1f} ms" for x in r))
    return result


def table(label: str, bare: Run, results: dict[str, Run]) -> list[str]:
    lines = []
    for name, r in {"bare aiohttp handler": bare, **results}.items():
        lines.append(
            f"| {label} | {name} | {r.rps:.0f} | {r.p50:.1f} ms | {r.p95:.1f} ms | {r.p99:.1f} ms "
            f"| {r.rps / bare.rps:.2f}x | {r.errors} |"
        )
    return lines


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--instances", type=int, default=100)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per wrk run")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--settle", type=float, default=20.0, help="seconds after a start before measuring")
    parser.add_argument(
        "--before", help="also measure the service of this git ref (say main) or checkout directory first"
    )
    parser.add_argument(
        "--uncached", action="store_true", help="also measure this tree with DBVEND_VIEW_CACHE_SECONDS=0"
    )
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed: apt-get install -y wrk")

    work = Path(tempfile.mkdtemp(prefix="dbvend-bench-read-"))
    script = work / "bench.lua"
    script.write_text(WRK_SCRIPT)
    url = await create_database()
    inventory = write_inventory(work / "inventory", ports=(26000, 26999), capacity_mb=65536)
    roots: list[tuple[str, Path, dict[str, str]]] = [("after", ROOT, {})]
    if args.uncached:
        roots.insert(0, ("after, cache off", ROOT, {"DBVEND_VIEW_CACHE_SECONDS": "0"}))
    if args.before:
        roots.insert(0, (f"before ({args.before})", checkout(args.before, work), {}))
    bare_port = free_port()
    bare = subprocess.Popen([sys.executable, "-c", BARE, str(bare_port)])  # noqa: ASYNC220 - returns at once
    ids: list[str] = []
    lines: list[str] = []
    svc: ServiceProcess | None = None
    print(f"load average at the start: {loadavg()}", flush=True)
    try:
        for label, root, env in roots:
            svc = ServiceProcess(
                url, work / "state", inventory, work / "service.log", root=root, **UNLIMITED, **env
            )
            await svc.start()
            if not ids:
                started = time.monotonic()
                ids = await create_instances(svc, args.instances)
                print(f"{len(ids)} redis instances after {time.monotonic() - started:.0f} s", flush=True)
            await asyncio.sleep(args.settle)  # a few collection rounds: samples exist
            targets: dict[str, Target] = {
                "GET /me": f"{svc.base}/me",
                "GET /instances/{id}": f"{svc.base}/instances/{ids[len(ids) // 2]}",
                f"GET /instances/{{id}}, {len(ids)} ids in turn": (
                    svc.base,
                    tuple(f"/api/v1/instances/{i}" for i in ids),
                ),
                "GET /instances?limit=50": f"{svc.base}/instances?limit=50",
            }
            bare_run = (
                await measure(
                    label,
                    {"bare": f"http://127.0.0.1:{bare_port}/bare"},
                    "",
                    script,
                    args.duration,
                    args.repeat,
                )
            )["bare"]
            results = await measure(label, targets, svc.token, script, args.duration, args.repeat)
            lines += table(label, bare_run, results)
            print(f"load average after {label}: {loadavg()}", flush=True)
            if label != roots[-1][0]:
                await svc.stop()
    finally:
        if ids and svc is not None and svc.proc and svc.proc.poll() is None:
            await delete_instances(svc, ids)
        if svc is not None:
            await svc.stop()
        bare.terminate()
        bare.wait(10)
        remove_containers_under(work)
        await drop_database(url)
        shutil.rmtree(work, ignore_errors=True)

    print(
        f"\n{len(ids)} instances, monitoring on (15 s), wrk -t2 -c16, {args.duration:g} s x {args.repeat}"
        " (medians)\n"
    )
    print("| service | route | req/s | p50 | p95 | p99 | vs bare | errors |")
    print("|---|---|---|---|---|---|---|---|")
    print("\n".join(lines))


if __name__ == "__main__":
    asyncio.run(main())
