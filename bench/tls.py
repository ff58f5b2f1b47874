"""Benchmark: TLS against plain, in one run on one machine (issue 23).

Two service processes side by side, plain (DBVEND_TLS_DEFAULT=off) and TLS (required), each
with a warm pool of two slots per engine; every measure alternates them round by round (both
pools full before each warm create), so the baseline is measured in the same run, under the
same load:
- warm create: POST /instances (a slot) -> the API's 201 (the service has checked the
  tenant's account over verified TLS by then), and -> the first query of a real client
  (verified against the CA bundle when TLS: that adds the client's own TLS set-up, measured
  on its own below), --runs times per engine, the pool refilled in between;
- connection set-up: --connects new connections + one query each (redis-py PING, PyMySQL
  SELECT 1; TLS: certificate and host name verified against the bundle);
- throughput: redis-benchmark (SET and GET, 50 clients, --tls --cacert for TLS) and sysbench
  oltp_read_only (8 threads, --seconds; --mysql-ssl=on for TLS: sysbench 1.0 encrypts but does
  not verify, the cost measured is the encryption's) on one instance per engine.

    .venv/bin/python bench/tls.py [--runs 8] [--connects 200] [--seconds 20] [--rounds 3]

Prints a Markdown table of p50/p95 per mode and the ratio TLS / plain of the medians. Host
ports --ports .. +49 (default 27450-27499, the tls test range of DBVEND_TEST_PORT_BASE=27000:
run it when no such test runs, or pass free ones)."""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pymysql
import redis

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import UNLIMITED, percentile, wait_pool  # noqa: E402
from bench.monitoring import remove_containers_under  # noqa: E402
from service.tls import Authority, issue, make_authority, member_names  # noqa: E402
from tests.e2e.service_process import ServiceProcess  # noqa: E402
from tests.helpers import create_database, drop_database, write_inventory  # noqa: E402

PORTS = (27450, 27499)
CLIENT = {"redis": "redis-py", "mysql": "PyMySQL"}
POOL = {"redis": 2, "mysql": 2}


def redis_client(conn: dict[str, Any], ca: Path | None) -> redis.Redis:
    tls: dict[str, Any] = (
        {"ssl": True, "ssl_ca_certs": str(ca), "ssl_cert_reqs": "required", "ssl_check_hostname": True}
        if ca
        else {}
    )
    return redis.Redis(
        host=conn["host"],
        port=conn["port"],
        username=conn["username"],
        password=conn["password"],
        socket_timeout=10,
        **tls,
    )


def mysql_client(conn: dict[str, Any], ca: Path | None) -> Any:
    return pymysql.connect(
        host=conn["host"],
        port=conn["port"],
        user=conn["username"],
        password=conn["password"],
        database=conn["database"],
        ssl={"ca": str(ca), "check_hostname": True} if ca else None,
        ssl_disabled=ca is None,
        connect_timeout=10,
    )


def one_query(engine: str, conn: dict[str, Any], ca: Path | None) -> None:
    if engine == "redis":
        client = redis_client(conn, ca)
        try:
            client.ping()
        finally:
            client.close()
        return
    db = mysql_client(conn, ca)
    try:
        with db.cursor() as cur:
            cur.execute("SELECT 1")
    finally:
        db.close()


def first_query(engine: str, conn: dict[str, Any], ca: Path | None, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            one_query(engine, conn, ca)
            return
        except (redis.RedisError, pymysql.MySQLError, OSError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def raw_redis_connects(conn: dict[str, Any], ca: Path | None, n: int) -> list[float]:
    """TCP (+ TLS handshake, verified) + AUTH + PING on a bare socket: the set-up the server
    and the protocol cost, without a client library's own per-connection work (redis-py
    spends tens of milliseconds of its own on each new TLS connection)."""
    context = ssl.create_default_context(cafile=str(ca)) if ca else None
    auth = f"AUTH {conn['username']} {conn['password']}\r\nPING\r\n".encode()
    times = []
    for _ in range(n):
        start = time.perf_counter()
        sock: socket.socket = socket.create_connection((conn["host"], conn["port"]), timeout=10)
        if context:
            sock = context.wrap_socket(sock, server_hostname=conn["host"])
        try:
            sock.sendall(auth)
            answer = b""
            while b"PONG" not in answer:
                chunk = sock.recv(256)
                if not chunk:
                    raise OSError(f"closed: {answer!r}")
                answer += chunk
        finally:
            sock.close()
        times.append(time.perf_counter() - start)
    return times


def connects(engine: str, conn: dict[str, Any], ca: Path | None, n: int) -> list[float]:
    times = []
    for _ in range(n):
        start = time.perf_counter()
        one_query(engine, conn, ca)
        times.append(time.perf_counter() - start)
    return times


def redis_throughput(conn: dict[str, Any], ca: Path | None, requests: int) -> dict[str, float]:
    argv = ["redis-benchmark", "-h", conn["host"], "-p", str(conn["port"]), "--user", conn["username"]]
    argv += ["-a", conn["password"], "-t", "set,get", "-n", str(requests), "-c", "50", "-q", "--csv"]
    if ca:
        argv += ["--tls", "--cacert", str(ca)]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=600, check=True).stdout
    found = {}
    for line in out.splitlines():
        parts = [p.strip('"') for p in line.split(",")]
        if parts[0] in ("SET", "GET"):
            found[parts[0]] = float(parts[1])
    return found


def sysbench(conn: dict[str, Any], ca: Path | None, seconds: int, work: Path, step: str) -> float:
    argv = ["sysbench", "oltp_read_only", "--db-driver=mysql", f"--mysql-host={conn['host']}"]
    argv += [f"--mysql-port={conn['port']}", f"--mysql-user={conn['username']}"]
    argv += [f"--mysql-password={conn['password']}", f"--mysql-db={conn['database']}"]
    argv += ["--tables=4", "--table-size=10000", "--threads=8", f"--time={seconds}"]
    if ca:
        argv += ["--mysql-ssl=on"]
    out = subprocess.run([*argv, step], capture_output=True, text=True, timeout=900, cwd=work, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"sysbench {step}: {out.stdout[-1500:]} {out.stderr[-1500:]}")
    found = re.search(r"transactions:\s+\d+\s+\(([\d.]+) per sec", out.stdout)
    return float(found.group(1)) if found else 0.0


@dataclass
class Mode:
    """One service process: plain (DBVEND_TLS_DEFAULT=off) or TLS (required)."""

    name: str
    root: Path
    url: str
    svc: ServiceProcess
    ca: Path | None = None


def sysbench_files(authority: Authority, directory: Path) -> None:
    """sysbench 1.0's --mysql-ssl=on reads client-key.pem, client-cert.pem and cacert.pem from
    its working directory (it has no options for them): a client certificate from the TLS
    service's CA (MariaDB checks a presented one against its CA) and the CA itself."""
    client = issue(
        authority, member_names("127.0.0.1", "bench", "sysbench"), now=datetime.now(UTC), purpose="member"
    )
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "client-cert.pem").write_text(client.certificate_pem)
    (directory / "client-key.pem").write_text(client.key_pem)
    (directory / "client-key.pem").chmod(0o600)
    (directory / "cacert.pem").write_text(authority.certificate_pem)


async def start_mode(name: str, work: Path, ports: tuple[int, int]) -> Mode:
    root = work / name
    url = await create_database()
    inventory = write_inventory(root / "inventory", ports=ports, pool=POOL)
    extra: dict[str, str] = {}
    if name != "off":
        # The TLS service signs with a CA given as the operator's, so that sysbench can get a
        # client certificate from it (sysbench_files).
        authority = make_authority(datetime.now(UTC))
        root.mkdir(parents=True, exist_ok=True)
        (root / "ca-cert.pem").write_text(authority.certificate_pem)
        (root / "ca-key.pem").write_text(authority.key_pem())
        (root / "ca-key.pem").chmod(0o600)
        extra = {
            "DBVEND_TLS_CA_CERT": str(root / "ca-cert.pem"),
            "DBVEND_TLS_CA_KEY": str(root / "ca-key.pem"),
        }
        sysbench_files(authority, root / "sysbench")
    svc = ServiceProcess(
        url,
        root / "state",
        inventory,
        root / "service.log",
        **UNLIMITED,
        DBVEND_COLLECT_INTERVAL="0",
        DBVEND_POOL_INTERVAL="1",
        DBVEND_TLS_DEFAULT=name,
        **extra,
    )
    await svc.start()
    mode = Mode(name, root, url, svc)
    if name != "off":
        status, pem = await svc.call("GET", "/tls/ca.pem")
        assert status == 200, pem
        mode.ca = root / "ca.pem"
        mode.ca.write_text(pem)
    return mode


async def stop_mode(mode: Mode) -> None:
    await mode.svc.stop()
    remove_containers_under(mode.root)
    await drop_database(mode.url)


async def full_pools(modes: list[Mode]) -> None:
    """Both pools full: no refill of either mode runs while the next one is measured."""
    for mode in modes:
        await wait_pool(mode.url, POOL, 600)


async def warm_create(mode: Mode, engine: str) -> tuple[float, float]:
    """Seconds to the API's 201 (the service checked the tenant's account over verified
    TLS before answering) and to the first query of the user's own client."""
    start = time.monotonic()
    status, inst = await mode.svc.call("POST", "/instances", json={"engine": engine})
    if status != 201:
        raise RuntimeError(f"not a warm create: {status} {inst}")
    answered = time.monotonic() - start
    await asyncio.to_thread(first_query, engine, inst["connection"], mode.ca)
    took = time.monotonic() - start
    await mode.svc.call("DELETE", f"/instances/{inst['id']}")
    return answered, took


def turns(modes: list[Mode], i: int) -> list[Mode]:
    """Plain first in even rounds, TLS first in odd ones: neither always gets the quieter slot."""
    return modes if i % 2 == 0 else modes[::-1]


async def measure(
    modes: list[Mode], args: argparse.Namespace, work: Path, results: dict[str, dict[str, list[float]]]
) -> None:
    """Every measure alternates the two modes round by round, so a change of the machine's
    load during the run hits both alike. Results go into `results` as they come (a failure
    late in the run still prints what was measured)."""

    def add(mode: Mode, name: str, values: list[float]) -> None:
        results[mode.name].setdefault(name, []).extend(values)

    await full_pools(modes)
    instances: dict[tuple[str, str], dict[str, Any]] = {}
    for engine in ("redis", "mysql"):
        for mode in modes:
            status, inst = await mode.svc.call("POST", "/instances", json={"engine": engine})
            assert status == 201, inst
            instances[mode.name, engine] = inst["connection"]
            await asyncio.to_thread(first_query, engine, inst["connection"], mode.ca)
    await full_pools(modes)
    block = max(1, args.connects // 10)
    for engine in ("redis", "mysql"):
        for i in range(0, args.connects, block):
            for mode in turns(modes, i // block):
                n = min(block, args.connects - i)
                conn = instances[mode.name, engine]
                add(
                    mode,
                    f"{engine} connect + query, {CLIENT[engine]}",
                    await asyncio.to_thread(connects, engine, conn, mode.ca, n),
                )
                if engine == "redis":
                    add(
                        mode,
                        "redis connect + AUTH + PING, bare socket",
                        await asyncio.to_thread(raw_redis_connects, conn, mode.ca, n),
                    )
    for mode in modes:
        bench_dir = work / mode.name / "sysbench"
        bench_dir.mkdir(parents=True, exist_ok=True)
        conn = instances[mode.name, "mysql"]
        await asyncio.to_thread(sysbench, conn, mode.ca, args.seconds, bench_dir, "prepare")
    for i in range(args.rounds):
        for mode in turns(modes, i):
            rates = await asyncio.to_thread(
                redis_throughput, instances[mode.name, "redis"], mode.ca, args.requests
            )
            for name, rps in rates.items():
                add(mode, f"redis {name} throughput", [rps])
        for mode in turns(modes, i):
            bench_dir = work / mode.name / "sysbench"
            conn = instances[mode.name, "mysql"]
            tps = await asyncio.to_thread(sysbench, conn, mode.ca, args.seconds, bench_dir, "run")
            add(mode, "mysql oltp_read_only throughput", [tps])
    # Last: the warm creates (each waits for both pools to be full again).
    for engine in ("redis", "mysql"):
        for i in range(args.runs):
            for mode in turns(modes, i):
                await full_pools(modes)
                answered, took = await warm_create(mode, engine)
                add(mode, f"{engine} warm create (API 201)", [answered])
                add(mode, f"{engine} warm create + first query ({CLIENT[engine]})", [took])


def cell(name: str, value: float) -> str:
    if "throughput" in name:
        return f"{value:,.0f}/s"
    return f"{value * 1000:.1f} ms"


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=8, help="warm creates per engine and mode")
    parser.add_argument("--connects", type=int, default=200, help="connections per engine and mode")
    parser.add_argument("--requests", type=int, default=200_000, help="redis-benchmark requests per round")
    parser.add_argument("--seconds", type=int, default=20, help="sysbench seconds per round")
    parser.add_argument("--rounds", type=int, default=3, help="throughput rounds per mode")
    parser.add_argument("--ports", type=int, default=PORTS[0], help="first of 50 free host ports")
    args = parser.parse_args()
    results: dict[str, dict[str, list[float]]] = {"off": {}, "required": {}}
    failure: BaseException | None = None
    with tempfile.TemporaryDirectory(prefix="dbvend-bench-tls-") as tmp:
        work = Path(tmp)
        modes: list[Mode] = []
        try:
            modes.append(await start_mode("off", work, (args.ports, args.ports + 24)))
            modes.append(await start_mode("required", work, (args.ports + 25, args.ports + 49)))
            await measure(modes, args, work, results)
        except Exception as exc:  # printed below, after what was measured
            failure = exc
        finally:
            for mode in modes:
                await stop_mode(mode)
    plain, tls = results["off"], results["required"]
    print(
        f"\nbench/tls.py --runs {args.runs} --connects {args.connects} --requests {args.requests}"
        f" --seconds {args.seconds} --rounds {args.rounds} ({os.cpu_count()} cores; plain and TLS"
        " alternated round by round in one run)\n"
    )
    print("| measure | n per mode | plain p50 | plain p95 | TLS p50 | TLS p95 | TLS / plain (p50) |")
    print("|---|---|---|---|---|---|---|")
    for name, values in plain.items():
        if not tls.get(name):
            continue
        p50, t50 = percentile(values, 50), percentile(tls[name], 50)
        print(
            f"| {name} | {len(values)} | {cell(name, p50)} | {cell(name, percentile(values, 95))}"
            f" | {cell(name, t50)} | {cell(name, percentile(tls[name], 95))} | {t50 / p50:.2f} |"
        )
    if failure is not None:
        raise failure


if __name__ == "__main__":
    asyncio.run(main())
