"""Benchmark: what the control plane costs when the API is idle. One service process (own
database, state dir and inventory with ports 26000-26999 or --ports) gets N small Redis instances
through its API (its inventory also asks for a warm pool, --pool, which the pool keeper fills
before anything is measured), then runs over the same instances in each configuration:

  1. with --before REF: the service of git ref REF (say main), monitoring on (15 s), first,
     while the database has that tree's migrations;
  2. baseline: monitoring off (DBVEND_COLLECT_INTERVAL=0);
  3. this tree, monitoring on at the default interval (15 s).

For each: CPU of the service process and of everything it runs (ansible-runner,
ansible-playbook and its workers are its children; their time is counted when they
end), as % of one core, the window of median CPU of --repeat windows, and its memory
(RSS, sampled every second); the time one collection round takes (from the service log),
p50/p95; and, monitoring on, how long the alerts take: InstanceDown after a container is
paused (first seen pending, then firing after the rule's `for`), --detections times on
different instances, InstanceRestarted after the server process of another instance is
SIGKILLed once. Prints
Markdown tables and keeps the numbers in bench/results/.

    .venv/bin/python bench/monitoring.py [--instances 50] [--window 60] [--repeat 3] [--before main]
        [--ports 26000-26999] [--pool redis=10,mysql=4] [--detections 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import shutil
import signal
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import docker  # noqa: E402

from bench.common import UNLIMITED, checkout, delete_instances, percentile, wait_pool  # noqa: E402
from tests.e2e.service_process import ServiceProcess  # noqa: E402
from tests.helpers import create_database, drop_database, write_inventory  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")
SMALL_REDIS = {"maxmemory": "8mb"}
ROUND_LINE = re.compile(r"collection round: (\d+) instance\(s\) on \d+ host\(s\) in ([0-9.]+) s")


def cpu_split(pid: int) -> tuple[float, float]:
    """(utime + stime of the process, of the children it has waited for), seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    utime, stime, cutime, cstime = (int(v) for v in fields[11:15])
    return (utime + stime) / TICKS, (cutime + cstime) / TICKS


def cpu_seconds(pid: int) -> float:
    return sum(cpu_split(pid))


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def dockerd_pid() -> int | None:
    """The host's Docker engine (not a fleet testbed's)."""
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if (proc / "comm").read_text().strip() != "dockerd":
                continue
            if b"dbvf" in (proc / "cmdline").read_bytes():
                continue
        except OSError:
            continue
        return int(proc.name)
    return None


@dataclass
class Window:
    label: str
    seconds: float = 0.0
    cpu: float = 0.0
    children_cpu: float = 0.0  # Ansible runs (ansible-runner -> ansible-playbook -> module)
    dockerd_cpu: float | None = None
    rss: list[float] = field(default_factory=list)
    rounds: list[float] = field(default_factory=list)

    def row(self, instances: int) -> str:
        cpu_pct = 100 * self.cpu / self.seconds
        docker = f"{100 * self.dockerd_cpu / self.seconds:.1f} %" if self.dockerd_cpu is not None else "-"
        rounds = "- | - | -"
        if self.rounds:
            p50, p95 = statistics.median(self.rounds), percentile(self.rounds, 95)
            rounds = f"{len(self.rounds)} | {p50:.2f} s | {p95:.2f} s"
        ansible_pct = 100 * self.children_cpu / self.seconds
        return (
            f"| {self.label} | {instances} | {self.seconds:.0f} s "
            f"| {cpu_pct:.1f} % ({ansible_pct:.1f} % Ansible) | "
            f"{statistics.mean(self.rss):.0f} MB | {max(self.rss):.0f} MB | {docker} | {rounds} |"
        )


async def measure(svc: ServiceProcess, label: str, window: float) -> Window:
    assert svc.proc is not None
    pid = svc.proc.pid
    docker = dockerd_pid()
    log_start = svc.log_path.stat().st_size
    result = Window(label)
    start, (own0, children0) = time.monotonic(), cpu_split(pid)
    docker0 = cpu_seconds(docker) if docker else None
    while time.monotonic() - start < window:
        result.rss.append(rss_mb(pid))
        await asyncio.sleep(1)
    result.seconds = time.monotonic() - start
    own1, children1 = cpu_split(pid)
    result.cpu = own1 + children1 - own0 - children0
    result.children_cpu = children1 - children0
    if docker and docker0 is not None:
        result.dockerd_cpu = cpu_seconds(docker) - docker0
    with svc.log_path.open() as log:
        log.seek(log_start)
        text = log.read()
    result.rounds = [float(m.group(2)) for m in ROUND_LINE.finditer(text)]
    for line in [line for line in text.splitlines() if "collection round:" in line][-3:]:
        print(" ", line.split(": ", 1)[-1], flush=True)
    return result


def remove_containers_under(root: Path) -> None:
    """Whatever went wrong, no container of this run outlives it."""
    client = docker.from_env()
    for container in client.containers.list(all=True, filters={"label": "dbvend.managed=true"}):
        if any(str(m.get("Source", "")).startswith(str(root)) for m in container.attrs.get("Mounts", [])):
            container.remove(force=True, v=True)
    client.close()


async def create_instances(svc: ServiceProcess, n: int) -> list[str]:
    ids: list[str] = []
    for first in range(0, n, 25):
        batch = await asyncio.gather(
            *(
                svc.call("POST", "/instances?wait=300", json={"engine": "redis", "settings": SMALL_REDIS})
                for _ in range(min(25, n - first))
            )
        )
        for status, inst in batch:
            if status != 201:
                raise RuntimeError(f"create failed: {status} {inst}")
            ids.append(inst["id"])
    return ids


async def _alert_seen(
    svc: ServiceProcess, iid: str, rule: str, since: float, limit: float
) -> dict[str, float]:
    """Seconds from `since` until the rule's alert on the instance was first seen pending and
    firing (polled every 0.5 s); missing keys: not seen within `limit`."""
    seen: dict[str, float] = {}
    while time.monotonic() - since < limit and "firing" not in seen:
        status, body = await svc.call("GET", f"/alerts?instance_id={iid}&rule={rule}")
        for alert in body.get("items", []) if status == 200 else []:
            if alert["status"] in ("pending", "firing", "acknowledged"):
                seen.setdefault("pending", time.monotonic() - since)
            if alert["status"] in ("firing", "acknowledged"):
                seen.setdefault("firing", time.monotonic() - since)
        await asyncio.sleep(0.5)
    return seen


async def _resolved(svc: ServiceProcess, iid: str, rule: str, limit: float) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        status, body = await svc.call("GET", f"/alerts?instance_id={iid}&rule={rule}")
        if status == 200 and all(a["status"] == "resolved" for a in body["items"]):
            return
        await asyncio.sleep(1)


async def detection(svc: ServiceProcess, ids: list[str], trials: int, crash: str) -> dict[str, list[float]]:
    """InstanceDown: a container paused (a hung server: the probe times out, Docker says
    paused, nothing repairs it) until the alert fires, `trials` times, each on another
    instance at whatever point of the round interval it falls; InstanceRestarted: the
    server's process SIGKILLed from the host once (a crash the restart policy undoes)."""
    client = docker.from_env()
    out: dict[str, list[float]] = {}
    try:
        for iid in ids[:trials]:
            container = client.containers.get(f"dbvend-{iid}")
            await asyncio.sleep(random.uniform(0, 15))  # a phase of the round
            paused = time.monotonic()
            container.pause()
            try:
                seen = await _alert_seen(svc, iid, "InstanceDown", paused, 120)
            finally:
                container.unpause()
            for k, v in seen.items():
                out.setdefault(f"InstanceDown {k}", []).append(v)
            print(f"  InstanceDown on {iid}: {seen}", flush=True)
            await _resolved(svc, iid, "InstanceDown", 120)
            await asyncio.sleep(3)
        container = client.containers.get(f"dbvend-{crash}")
        await asyncio.sleep(5)
        container.reload()
        killed = time.monotonic()
        os.kill(int(container.attrs["State"]["Pid"]), signal.SIGKILL)
        seen = await _alert_seen(svc, crash, "InstanceRestarted", killed, 120)
        for k, v in seen.items():
            out.setdefault(f"InstanceRestarted {k}", []).append(v)
        return out
    finally:
        client.close()


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--instances", type=int, default=50)
    parser.add_argument("--window", type=float, default=60.0, help="seconds per measured window")
    parser.add_argument("--repeat", type=int, default=3, help="windows per configuration (medians)")
    parser.add_argument("--settle", type=float, default=30.0, help="seconds after a start before measuring")
    parser.add_argument(
        "--before", help="also measure the service of this git ref (say main) or checkout directory"
    )
    parser.add_argument("--no-detection", action="store_true", help="skip the alert latency checks")
    parser.add_argument("--detections", type=int, default=3, help="InstanceDown trials (medians, max)")
    parser.add_argument(
        "--pool",
        default="redis=10,mysql=4",
        help="the host's warm pool (engine=slots,...), filled before measuring; '' for none",
    )
    parser.add_argument(
        "--ports",
        default="26000-26999",
        help="the instances' host port range (another run may hold the default)",
    )
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="dbvend-bench-monitoring-"))
    url = await create_database()
    low, high = (int(p) for p in args.ports.split("-", 1))
    pool = {e: int(n) for e, n in (part.split("=", 1) for part in args.pool.split(",") if part)}
    inventory = write_inventory(work / "inventory", ports=(low, high), capacity_mb=65536, pool=pool or None)
    configs: list[tuple[str, Path, dict[str, str]]] = []
    if args.before:  # first: the database is at its migrations, not this tree's (0027 changes a rule)
        configs.append((f"before ({args.before}), monitoring on (15 s)", checkout(args.before, work), {}))
    configs.append(("monitoring off (DBVEND_COLLECT_INTERVAL=0)", ROOT, {"DBVEND_COLLECT_INTERVAL": "0"}))
    configs.append(("after (this tree), monitoring on (15 s)", ROOT, {}))
    svc: ServiceProcess | None = None
    ids: list[str] = []
    rows: list[tuple[Window, dict[str, list[float]]]] = []
    print(f"load average at the start: {loadavg()}", flush=True)
    try:
        for label, root, env in configs:
            svc = ServiceProcess(
                url, work / "state", inventory, work / "service.log", root=root, **UNLIMITED, **env
            )
            await svc.start()
            if not ids:
                started = time.monotonic()
                ids = await create_instances(svc, args.instances)
                print(
                    f"{len(ids)} redis instances running after {time.monotonic() - started:.0f} s", flush=True
                )
            if pool:
                filled = await wait_pool(url, pool)
                print(f"  pool {pool} ready ({filled:.0f} s)", flush=True)
            await asyncio.sleep(args.settle)
            windows = [await measure(svc, label, args.window) for _ in range(args.repeat)]
            latencies: dict[str, list[float]] = {}
            if env.get("DBVEND_COLLECT_INTERVAL") != "0" and not args.no_detection:
                # Each configuration crashes an instance no earlier one touched (an open
                # InstanceRestarted alert is kept 5 minutes).
                latencies = await detection(svc, ids, args.detections, ids[-1 - len(rows)])
                print(f"  {label}: {latencies}", flush=True)
            rows.append((median_window(label, windows), latencies))
            print(f"  load average: {loadavg()}", flush=True)
            if (label, root, env) != configs[-1]:
                await svc.stop()
    finally:
        if ids and svc is not None and svc.proc and svc.proc.poll() is None:
            await delete_instances(svc, ids)
        if svc is not None:
            await svc.stop()
        remove_containers_under(work)
        await drop_database(url)
        shutil.rmtree(work, ignore_errors=True)

    print(
        f"\n{len(ids)} Redis instances on one host, API idle; {args.repeat} windows of {args.window:g} s"
        " per configuration, medians\n"
    )
    print(
        "| configuration | instances | window | service CPU (% of one core) | RSS avg | RSS max "
        "| dockerd CPU | rounds | round p50 | round p95 |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for window, _ in rows:
        print(window.row(len(ids)))
    names = sorted({k for _, lat in rows for k in lat})
    if names:
        print("\n| configuration | alert | n | p50 | max |")
        print("|---|---|---|---|---|")
        for window, lat in rows:
            for n in names:
                if n in lat:
                    v = lat[n]
                    print(
                        f"| {window.label} | {n} | {len(v)} | {statistics.median(v):.1f} s | {max(v):.1f} s |"
                    )
    results: dict[str, Any] = {
        "instances": len(ids),
        "pool": pool,
        "load_average_end": loadavg(),
        "windows": [
            {
                "label": w.label,
                "seconds": w.seconds,
                "cpu_seconds": w.cpu,
                "cpu_percent_of_one_core": 100 * w.cpu / w.seconds,
                "ansible_cpu_seconds": w.children_cpu,
                "dockerd_cpu_seconds": w.dockerd_cpu,
                "rss_mb_avg": statistics.mean(w.rss),
                "rss_mb_max": max(w.rss),
                "round_seconds": w.rounds,
                "detection_seconds": lat,
            }
            for w, lat in rows
        ],
    }
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / f"monitoring-{time.strftime('%Y%m%d-%H%M%S')}.json").write_text(json.dumps(results, indent=2))


def median_window(label: str, windows: list[Window]) -> Window:
    """The window of median CPU; RSS and rounds over all of them."""
    ordered = sorted(windows, key=lambda w: w.cpu / w.seconds)
    middle = ordered[len(ordered) // 2]
    return Window(
        label,
        seconds=middle.seconds,
        cpu=middle.cpu,
        children_cpu=middle.children_cpu,
        dockerd_cpu=middle.dockerd_cpu,
        rss=[r for w in windows for r in w.rss],
        rounds=[r for w in windows for r in w.rounds],
    )


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


if __name__ == "__main__":
    asyncio.run(main())
