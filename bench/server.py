"""Room server load test: our server against Colyseus 0.16 on Node, same room, same clients.

    python -m bench.server [--clients 50,200,500] [--warmup 5] [--measure 20] [--send-rate 0]
                           [--impls python,python-uvloop,node] [--room-n 100] [--room-k 10] [--hz 20]
                           [--rounds 1]

For each client count C, each server runs in turn in its own process on
127.0.0.1 (``python``: bench/room_server.py on this package, on the standard
asyncio loop; ``python-uvloop``: the same on uvloop; ``node``:
bench/node/room_server.mjs on @colyseus/core 0.16.26): room "game", rooms of
10 clients, a state holding the standard workload (N NPC players, K % moved per
tick) plus one player per client, simulation and patches at HZ. The same load
generator, ``python -m pyseus.client.loadtest`` in another process, joins C clients
(optionally sending ``input`` messages at a rate), warms up, then measures.

Reported per run: the server's CPU (utime + stime from /proc over the measured
window; 100 % = one core) and RSS, the patches delivered per second (expected
C x HZ), the patch inter-arrival p50/p99 seen by the clients, bytes per patch,
and the load generator's CPU. The ratio table compares our server with Node's,
measured back to back in the same run. On a shared machine the CPU figures of
one run can move by a fifth from one minute to the next: ``--rounds R`` runs
every server R times in turn and compares medians. Nothing here is a
pass/fail test.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.proc import cpu_seconds, rss_mb
from pyseus.client.loadtest import SATURATED_CPU

ROOT = Path(__file__).resolve().parents[1]
NODE_DIR = ROOT / "bench" / "node"


def _start_server(impl: str, env: dict[str, str]) -> tuple[subprocess.Popen[str], int]:
    if impl == "node":
        cmd, cwd = ["node", "room_server.mjs", "0"], NODE_DIR
    else:
        loop = "uvloop" if impl == "python-uvloop" else "asyncio"
        cmd, cwd = [sys.executable, "-m", "bench.room_server", "--port", "0", "--loop", loop], ROOT
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line.startswith("{"):
        proc.kill()
        raise RuntimeError(f"the {impl} server did not start: {line!r}")
    return proc, int(json.loads(line)["listening"])


def _stop(proc: subprocess.Popen[str]) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def run_one(impl: str, clients: int, args: argparse.Namespace) -> dict[str, Any]:
    env = {**os.environ, "ROOM_SIZE": "10", "ROOM_N": str(args.room_n), "ROOM_K": str(args.room_k),
           "HZ": str(args.hz)}
    server, port = _start_server(impl, env)
    try:
        ramp = clients / 100
        warmup = ramp + args.warmup
        cmd = [sys.executable, "-m", "pyseus.client.loadtest", "--endpoint", f"http://127.0.0.1:{port}", "--room", "game",
               "--clients", str(clients), "--ramp", str(ramp), "--warmup", str(warmup),
               "--duration", str(warmup + args.measure), "--json", "--quiet", "--decode", args.decode]
        if args.send_rate:
            cmd += ["--send-rate", str(args.send_rate), "--message-type", "input",
                    "--message", '{"x": 1.5, "y": 2.5, "angle": 0.5}']
        loadgen = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        # the server is sampled inside the load generator's measured window
        time.sleep(warmup + 0.5)
        cpu0, t0 = cpu_seconds(server.pid), time.monotonic()
        time.sleep(max(1.0, args.measure - 1.0))
        cpu1, t1 = cpu_seconds(server.pid), time.monotonic()
        rss = rss_mb(server.pid)
        out, err = loadgen.communicate(timeout=args.measure + warmup + 120)
        if loadgen.returncode != 0:
            raise RuntimeError(f"the load generator failed: {err[-2000:]}")
        summary = json.loads(out)
    finally:
        _stop(server)
    patches = summary["patches_per_s"]
    return {
        "impl": impl, "clients": clients, "connected": summary["connected"], "failed": summary["failed"],
        "server_cpu_percent": 100 * (cpu1 - cpu0) / (t1 - t0), "server_rss_mb": rss,
        "patches_per_s": patches, "expected_patches_per_s": clients * args.hz,
        "p50_ms": summary["patch_interval_p50_ms"], "p99_ms": summary["patch_interval_p99_ms"],
        "bytes_per_patch": summary["bytes_per_s"] / patches if patches else 0.0,
        "loadgen_cpu_percent": summary["cpu_percent"],
    }


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def print_tables(results: list[dict[str, Any]], impls: list[str]) -> None:
    print("\n## Per run\n")
    print("| C | server | round | joined | server CPU % | server RSS MB | patches/s (expected) | "
          "inter-arrival p50 / p99 ms | bytes/patch | load generator CPU % |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        print(f"| {r['clients']} | {r['impl']} | {r['round']} | {r['connected']}/{r['clients']} | "
              f"{r['server_cpu_percent']:.1f} | "
              f"{r['server_rss_mb']:.0f} | {r['patches_per_s']:,.0f} ({r['expected_patches_per_s']:,.0f}) | "
              f"{_ms(r['p50_ms'])} / {_ms(r['p99_ms'])} | {r['bytes_per_patch']:.0f} | "
              f"{r['loadgen_cpu_percent']:.1f}{' (!)' if r['loadgen_cpu_percent'] >= SATURATED_CPU else ''} |")
    if any(r["loadgen_cpu_percent"] >= SATURATED_CPU for r in results):
        print(f"\n(!) the load generator used {SATURATED_CPU:.0f} % of a core or more: in those runs it, not the "
              "server, may have been the limit (try --decode frames)")
    ours = [impl for impl in impls if impl.startswith("python")]
    if "node" not in impls or not ours:
        return
    print("\n## Ratios to node (measured in this run)\n")
    rounds = max(r["round"] for r in results)
    if rounds > 1:
        print(f"(medians of {rounds} rounds, each running every server once in turn; the CPU ratio's lowest "
              "and highest round in brackets)\n")
    print("| C | server | server CPU | server RSS | patches delivered | p99 inter-arrival |")
    print("|---|---|---|---|---|---|")
    by: dict[tuple[str, int], list[dict[str, Any]]] = {}
    for r in results:
        by.setdefault((r["impl"], r["clients"]), []).append(r)
    for c in sorted({r["clients"] for r in results}):
        node = by.get(("node", c))
        for impl in ours:
            py = by.get((impl, c))
            if py is None or node is None:
                continue

            def ratio(key: str) -> str:
                a, b = _median(py, key), _median(node, key)
                return f"{a / b:.2f}" if a and b else "-"

            spread = ""
            if rounds > 1:
                cpu = {r["round"]: r["server_cpu_percent"] for r in node}
                per_round = sorted(r["server_cpu_percent"] / cpu[r["round"]] for r in py if cpu.get(r["round"]))
                spread = f" ({per_round[0]:.2f}-{per_round[-1]:.2f})" if per_round else ""
            print(f"| {c} | {impl} | {ratio('server_cpu_percent')}{spread} | {ratio('server_rss_mb')} | "
                  f"{ratio('patches_per_s')} | {ratio('p99_ms')} |")


def _median(runs: list[dict[str, Any]], key: str) -> float | None:
    values = sorted(r[key] for r in runs if r[key] is not None)
    return statistics.median(values) if values else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", default="50,200,500")
    parser.add_argument("--impls", default="python,python-uvloop,node")
    parser.add_argument("--warmup", type=float, default=5.0, help="seconds after the ramp")
    parser.add_argument("--measure", type=float, default=20.0, help="seconds")
    parser.add_argument("--send-rate", type=float, default=0.0, help="input messages per second per client")
    parser.add_argument("--room-n", type=int, default=100)
    parser.add_argument("--room-k", type=float, default=10)
    parser.add_argument("--hz", type=float, default=20)
    parser.add_argument("--decode", choices=("full", "frames"), default="full",
                        help="what the load generator does with states: decode them, or count frames only")
    parser.add_argument("--rounds", type=int, default=1,
                        help="run every server this many times, in turn; ratios are of the medians")
    parser.add_argument("--json", help="also append the raw results to this file (JSON lines)")
    args = parser.parse_args()
    if not (NODE_DIR / "node_modules" / "@colyseus" / "core").is_dir():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=NODE_DIR, check=True)
    impls = args.impls.split(",")
    results = []
    for clients in (int(c) for c in args.clients.split(",")):
        for n in range(1, args.rounds + 1):
            for impl in impls:
                result = {**run_one(impl, clients, args), "round": n}
                print(f"C={clients} {impl} (round {n}): server CPU {result['server_cpu_percent']:.1f} %, "
                      f"{result['patches_per_s']:,.0f} patches/s", file=sys.stderr, flush=True)
                results.append(result)
            if args.json:
                with open(args.json, "a") as f:
                    f.write(json.dumps(result) + "\n")
    print(f"\nmachine: {os.cpu_count()} cpus, python {sys.version.split()[0]}, "
          f"node {subprocess.run(['node', '--version'], capture_output=True, text=True).stdout.strip()}; "
          f"rooms of 10, N={args.room_n} K={args.room_k:g} % at {args.hz:g} Hz, "
          f"send rate {args.send_rate:g}/s per client, {args.measure:g} s measured")
    print_tables(results, impls)


if __name__ == "__main__":
    main()
