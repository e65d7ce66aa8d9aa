"""Several server processes on one Redis against one: joins per second and patches per second.

    python -m bench.cluster [--processes 0,1,2] [--joins 400] [--clients 1000] [--measure 10]

For each process count P, a fresh redis-server (no persistence, 127.0.0.1) and
``python -m pyseus.server --workers P --redis URL`` (the demo ``state_room``, 16
seats, 20 Hz patches) run on this machine; P = 0 is one process in memory
(no Redis), the reference. Two measurements go through the
first process's endpoint, so matchmaking spreads rooms over the others through
Redis:

* joins: ``--joins`` clients join_or_create at once (50 in flight), timed from
  the first request to the last JOIN_ROOM; the seats are then left;
* patches: ``python -m pyseus.client.loadtest`` holds ``--clients`` clients and
  reports the patches delivered per second (expected: clients x 20) and their
  inter-arrival p99.

Reported with the CPU of every server process and of the load generator (100 %
= one core), since on a small machine the generator can be the limit.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.proc import cpu_seconds
from pyseus.client import Client
from pyseus.testing import free_port

ROOT = Path(__file__).resolve().parents[1]


def _wait_port(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port}")


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(p) for p in f.read().split()]
    except OSError:
        return []


async def _joins(endpoint: str, count: int) -> float:
    gate = asyncio.Semaphore(50)
    rooms = []

    async def one(client: Client) -> None:
        async with gate:
            rooms.append(await client.join_or_create("state_room"))

    clients = [Client(endpoint) for _ in range(count // 50 + 1)]
    start = time.perf_counter()
    await asyncio.gather(*(one(clients[i % len(clients)]) for i in range(count)))
    elapsed = time.perf_counter() - start
    await asyncio.gather(*(c.close() for c in clients))
    return count / elapsed


def run(processes: int, args: argparse.Namespace, redis_binary: str) -> dict[str, Any]:
    redis_port = free_port()
    workdir = tempfile.TemporaryDirectory()
    redis = subprocess.Popen([redis_binary, "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "",
                              "--appendonly", "no", "--dir", workdir.name], stdout=subprocess.DEVNULL)
    port = free_port(processes)
    server = None
    try:
        _wait_port(redis_port)
        shared = ["--workers", str(processes), "--redis", f"redis://127.0.0.1:{redis_port}"] if processes else []
        server = subprocess.Popen(
            [sys.executable, "-m", "pyseus.server", *shared, "--host", "127.0.0.1", "--port", str(port),
             "--log-level", "ERROR"], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for i in range(max(1, processes)):
            _wait_port(port + i)
        time.sleep(1.5)          # (every worker registered)
        endpoint = f"http://127.0.0.1:{port}"
        joins_per_s = asyncio.run(_joins(endpoint, args.joins))
        time.sleep(1.0)
        ramp = args.clients / 100
        warmup = ramp + 3
        loadgen = subprocess.Popen(
            [sys.executable, "-m", "pyseus.client.loadtest", "--endpoint", endpoint, "--room", "state_room",
             "--clients", str(args.clients), "--ramp", str(ramp), "--warmup", str(warmup),
             "--duration", str(warmup + args.measure), "--json", "--quiet"],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        workers = _children(server.pid) if processes > 1 else [server.pid]
        time.sleep(warmup + 0.5)
        cpu0, t0 = {p: cpu_seconds(p) for p in workers}, time.monotonic()
        time.sleep(max(1.0, args.measure - 1.0))
        cpu1, t1 = {p: cpu_seconds(p) for p in workers}, time.monotonic()
        out, err = loadgen.communicate(timeout=args.measure + warmup + 120)
        if loadgen.returncode != 0:
            raise RuntimeError(f"the load generator failed: {err[-2000:]}")
        summary = json.loads(out)
        return {"processes": processes, "joins_per_s": joins_per_s, "clients": args.clients,
                "connected": summary["connected"], "patches_per_s": summary["patches_per_s"],
                "expected": args.clients * 20, "p99_ms": summary["patch_interval_p99_ms"],
                "server_cpu": [100 * (cpu1[p] - cpu0[p]) / (t1 - t0) for p in workers],
                "loadgen_cpu": summary["cpu_percent"]}
    finally:
        if server is not None:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(30)
            except subprocess.TimeoutExpired:
                server.kill()
        redis.terminate()
        redis.wait()
        workdir.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--processes", default="0,1,2", help="0: one process in memory, without Redis")
    parser.add_argument("--joins", type=int, default=400)
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--measure", type=float, default=10.0)
    args = parser.parse_args()
    redis_binary = shutil.which("redis-server")
    if redis_binary is None:
        sys.exit("redis-server is needed (Debian: apt-get install redis-server)")
    results = [run(int(p), args, redis_binary) for p in args.processes.split(",")]
    print("| processes | joins/s | clients held | patches/s (expected) | inter-arrival p99 ms | "
          "server CPU % (each) | load generator CPU % |")
    print("|---|---|---|---|---|---|---|")
    base = results[0]
    for r in results:
        print(f"| {r['processes'] or '1, in memory'} | {r['joins_per_s']:.0f} ({r['joins_per_s'] / base['joins_per_s']:.2f}x) | "
              f"{r['connected']}/{r['clients']} | {r['patches_per_s']:,.0f} ({r['expected']:,}) | "
              f"{r['p99_ms']:.0f} | {', '.join(f'{c:.0f}' for c in r['server_cpu'])} | {r['loadgen_cpu']:.0f} |")
        if r["loadgen_cpu"] > 85:
            print(f"  (the load generator used {r['loadgen_cpu']:.0f} % of a core: it, not the servers, "
                  "may be the limit here)")


if __name__ == "__main__":
    main()
