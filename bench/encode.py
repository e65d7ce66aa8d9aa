"""Encode/decode benchmark on the standard workload, against @colyseus/schema on Node.

    python -m bench.encode [--sizes 100,1000,10000] [--ks 1,10,100] [--runs 5] [--run-ms 200]
                           [--impls schema,schema-bulk,slots,node-v3,node-v5] [--quick]

For every (N, K) each implementation runs in its own process, back to back, so
the ratios compare numbers taken under the same conditions:

* ``schema``: this package (mutation through the tracked setters, ``encode()``,
  our ``Decoder``; ``encode_all()`` and a fresh decode for a joining client);
* ``schema-bulk``: the same moves as a numpy game loop (positions in arrays,
  the new values handed over as columns with ``set_fields``; needs numpy:
  ``pip install -e ".[bench]"``), the same patches byte for byte;
* ``slots``: the same players as plain ``__slots__`` objects, mutated the same
  way: the Python limit for the mutate step;
* ``node-v3`` / ``node-v5``: @colyseus/schema 3.0.76 and 5.0.34 (bench/node).

Per tick it times mutate, encode (patch + discard) and decode separately and
reports the median over runs of the per-tick means (µs), bytes per patch, and
the full state (encode_all µs, bytes, decode µs). Before measuring it checks
that the workload reproduces its test vectors and that our patches are byte for
byte those of 3.x for the first ticks. Nothing here is a pass/fail test.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.schema_workload import BulkWorkload, SchemaWorkload  # noqa: E402
from bench.workload import SlotsWorkload, Workload, check_test_vectors  # noqa: E402
from pyseus.schema import Decoder, Encoder, Reflection  # noqa: E402
from pyseus.schema.wire import Reader, TypeCode, encode_primitive  # noqa: E402

NODE_DIR = Path(__file__).resolve().parent / "node"


now = time.perf_counter_ns


def _median_of_repeats(fn: Any, min_reps: int, min_ms: float, reps: int) -> float:
    start = now()
    n = 0
    while n < min_reps or (now() - start) < min_ms * 1e6:
        fn()
        n += 1
    times = []
    for _ in range(reps):
        t0 = now()
        fn()
        times.append(now() - t0)
    return statistics.median(times)


def run_python(impl: str, n: int, k: float, runs: int, run_ms: float) -> dict[str, Any]:
    """One implementation on one (N, K), measured as in WORKLOAD.md."""
    if impl == "slots":
        work: Workload = SlotsWorkload(n, k)
        encoder = decoder = client = None
    else:
        work = BulkWorkload(n, k) if impl == "schema-bulk" else SchemaWorkload(n, k)
        encoder = Encoder(work.state)
        handshake = Reflection.encode(work.state)
        client = Reflection.decode(handshake)
        decoder = Decoder(client)
        decoder.decode(encoder.encode_all())
        encoder.discard()

    def tick(acc: list[float]) -> None:
        t0 = now()
        work.step()
        t1 = now()
        if encoder is None:
            acc[0] += t1 - t0
            return
        patch = encoder.encode()
        t2 = now()
        decoder.decode(patch)
        t3 = now()
        acc[0] += t1 - t0
        acc[1] += t2 - t1
        acc[2] += t3 - t2
        acc[3] += len(patch)

    def check() -> None:
        if client is None:
            return
        server = work.state.to_json()
        mirror = client.to_json()
        f32 = lambda v: Reader(encode_primitive("float32", v)).primitive(TypeCode.FLOAT32)   # noqa: E731
        for p in server["players"].values():
            for name in ("x", "y", "angle"):
                p[name] = f32(p[name])
        if mirror != server:
            raise AssertionError("the client state differs from the server state")

    warm = [0.0] * 4
    ticks = 0
    start = now()
    while ticks < 50 or (now() - start) < run_ms * 1e6:
        tick(warm)
        ticks += 1
    while work.t % 10:
        tick(warm)
    per_tick = (now() - start) / ticks
    t_per_run = int(min(50000, max(10, round(run_ms * 1e6 / per_tick / 10) * 10)))
    check()
    results = []
    for _ in range(runs):
        acc = [0.0] * 4
        for _ in range(t_per_run):
            tick(acc)
        results.append({"mutate": acc[0] / t_per_run, "encode": acc[1] / t_per_run,
                        "decode": acc[2] / t_per_run, "bytes": acc[3] / t_per_run})
    check()
    out: dict[str, Any] = {"impl": impl, "n": n, "k": k, "ticks": t_per_run, "runs": results}
    if encoder is not None:
        full = encoder.encode_all()
        out["encode_all_ns"] = _median_of_repeats(encoder.encode_all, 10, run_ms / 2, 9)

        def join() -> None:
            Decoder(Reflection.decode(handshake)).decode(full)

        out["decode_all_ns"] = _median_of_repeats(join, 5, run_ms / 2, 5) - _median_of_repeats(
            lambda: Reflection.decode(handshake), 5, run_ms / 2, 5)
        out["full_bytes"] = len(full)
    return out


def run_in_process(impl: str, n: int, k: float, runs: int, run_ms: float) -> dict[str, Any]:
    if impl.startswith("node-"):
        cmd = ["node", "schema_bench.mjs", "--impl", impl[5:], "--n", str(n), "--k", str(k),
               "--runs", str(runs), "--run-ms", str(run_ms)]
        cwd = NODE_DIR
    else:
        cmd = [sys.executable, "-m", "bench.encode", "--worker", impl, str(n), str(k), str(runs), str(run_ms)]
        cwd = Path(__file__).resolve().parents[1]
    out = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=900, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def ensure_node_packages() -> None:
    if not (NODE_DIR / "node_modules" / "schema-v5").is_dir():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=NODE_DIR, check=True)


def check_wire_identity(n: int, k: float, bulk: bool, ticks: int = 100) -> None:
    """Our patches for the first ticks (of the per-field path, and of the bulk one
    when it is measured) are byte for byte those of @colyseus/schema 3.x."""
    digests = set()
    for workload in (SchemaWorkload, BulkWorkload) if bulk else (SchemaWorkload,):
        work = workload(n, k)
        enc = Encoder(work.state)
        enc.encode_all()
        enc.encode()
        h = hashlib.sha256()
        for _ in range(ticks):
            work.step()
            h.update(enc.encode())
        digests.add(h.hexdigest())
    ref = subprocess.run(["node", "schema_bench.mjs", "--impl", "v3", "--n", str(n), "--k", str(k),
                          "--patch-digest", str(ticks)], cwd=NODE_DIR, capture_output=True, text=True,
                         timeout=120, check=True)
    want = json.loads(ref.stdout)["digest"]
    if digests != {want}:
        raise AssertionError(f"patches differ from @colyseus/schema 3.x (N={n} K={k}, {ticks} ticks)")


def summarize(result: dict[str, Any]) -> dict[str, float]:
    runs = result["runs"]
    med = {key: statistics.median(r[key] for r in runs) for key in ("mutate", "encode", "decode", "bytes")}
    for key in ("encode_all_ns", "decode_all_ns", "full_bytes"):
        if key in result:
            med[key] = result[key]
    return med


def fmt(ns: float | None) -> str:
    if ns is None:
        return "-"
    us = ns / 1000
    return f"{us:,.0f}" if us >= 100 else f"{us:.2f}" if us >= 1 else f"{us:.3f}"


def print_tables(cells: dict[tuple[int, float], dict[str, dict[str, float]]], impls: list[str]) -> None:
    print("\n## Per tick (µs, median of runs) and full state\n")
    print("| N | K% | impl | mutate | encode | decode | bytes/patch | encode_all | full bytes | decode full |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for (n, k), by_impl in cells.items():
        for impl in impls:
            m = by_impl.get(impl)
            if m is None:
                continue
            print(f"| {n} | {k:g} | {impl} | {fmt(m['mutate'])} | "
                  f"{fmt(m['encode']) if m['encode'] else '-'} | {fmt(m['decode']) if m['decode'] else '-'} | "
                  f"{m['bytes']:,.0f} | {fmt(m.get('encode_all_ns'))} | {m.get('full_bytes', 0):,.0f} | "
                  f"{fmt(m.get('decode_all_ns'))} |")
    print("\n## Ratios (measured in this run)\n")
    print("| N | K% | encode ÷ v5 (≤ 0.5) | encode ÷ v3 (≤ 0.2) | mutate ÷ slots (≤ 1.5) | bytes ÷ v3 "
          "| mutate+encode ÷ v5: schema / schema-bulk (bulk < 1) |")
    print("|---|---|---|---|---|---|---|")
    for (n, k), by_impl in cells.items():

        def ratio(ours: str, key: str, other: str) -> str:
            mine, ref = by_impl.get(ours), by_impl.get(other)
            if not mine or not ref:
                return "-"
            keys = ("mutate", "encode") if key == "tick" else (key,)
            return f"{sum(mine[k] for k in keys) / sum(ref[k] for k in keys):.2f}"

        print(f"| {n} | {k:g} | {ratio('schema', 'encode', 'node-v5')} | {ratio('schema', 'encode', 'node-v3')} | "
              f"{ratio('schema', 'mutate', 'slots')} | {ratio('schema', 'bytes', 'node-v3')} | "
              f"{ratio('schema', 'tick', 'node-v5')} / {ratio('schema-bulk', 'tick', 'node-v5')} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="100,1000,10000")
    parser.add_argument("--ks", default="1,10,100")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--run-ms", type=float, default=200)
    parser.add_argument("--impls", default="schema,schema-bulk,slots,node-v3,node-v5")
    parser.add_argument("--quick", action="store_true", help="N=100,1000, K=1,10, 3 runs of 100 ms")
    parser.add_argument("--json", help="also append the raw results to this file (JSON lines)")
    parser.add_argument("--worker", nargs=5, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        impl, n, k, runs, run_ms = args.worker
        print(json.dumps(run_python(impl, int(n), float(k), int(runs), float(run_ms))))
        return
    if args.quick:
        args.sizes, args.ks, args.runs, args.run_ms = "100,1000", "1,10", 3, 100
    impls = args.impls.split(",")
    check_test_vectors()
    with_node = any(i.startswith("node-") for i in impls)
    if with_node:
        ensure_node_packages()
    cells: dict[tuple[int, float], dict[str, dict[str, float]]] = {}
    for n in map(int, args.sizes.split(",")):
        for k in map(float, args.ks.split(",")):
            if with_node:
                check_wire_identity(n, k, bulk="schema-bulk" in impls)
            for impl in impls:
                result = run_in_process(impl, n, k, args.runs, args.run_ms)
                if args.json:
                    with open(args.json, "a") as f:
                        f.write(json.dumps(result) + "\n")
                cells.setdefault((n, k), {})[impl] = summarize(result)
                print(f"N={n} K={k:g} {impl}: encode {fmt(cells[(n, k)][impl]['encode'])} µs", file=sys.stderr)
    print(f"\nmachine: {os.cpu_count()} cpus, python {sys.version.split()[0]}, "
          f"node {subprocess.run(['node', '--version'], capture_output=True, text=True).stdout.strip()}")
    print("\nThe workload reproduced its test vectors. For every (N, K) above, the patches of the"
          "\nfirst 100 ticks were byte for byte those of @colyseus/schema 3.0.76. (bytes/patch"
          "\nbelow are averages over the measured ticks, which differ between implementations:"
          "\nlater ticks carry larger refIds.)")
    print_tables(cells, impls)


if __name__ == "__main__":
    main()
