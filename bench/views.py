"""What StateView costs a room per tick.

    .venv/bin/python -m bench.views [--items 1000] [--clients 100] [--visible 10] [--ticks 400]

A state of ``--items`` items (x, y as float32, hp as uint8) of which 10 % move
every tick, and ``--clients`` clients. Three rooms, measured in this process one
after the other, the same moves in each:

* ``shared``: the items in an ordinary map; every client gets the one patch;
* ``views``: the items in a view field; each client has its own StateView of
  ``--visible`` random items; per tick the shared patch once, then each view part;
* ``views, one shared view``: the same, all clients using one StateView.

The time per tick covers what the room's patch step does on the encoder side
(``encode()`` and every ``encode_view()``), not sending. Median of 5 runs.
"""
from __future__ import annotations

import argparse
import random
import statistics
import time
from typing import Any

from pyseus.schema import Encoder, MapSchema, Schema, StateView, field, float32, uint8


class Item(Schema):
    x: float32 = 0.0
    y: float32 = 0.0
    hp: uint8 = 100


class Shared(Schema):
    items: MapSchema[Item] = field(default_factory=MapSchema)


class Hidden(Schema):
    items: MapSchema[Item] = field(default_factory=MapSchema, view=True)


def run(kind: str, items: int, clients: int, visible: int, ticks: int, seed: int) -> tuple[float, float, int]:
    rng = random.Random(seed)
    state: Any = Shared() if kind == "shared" else Hidden()
    keys = [f"i{n}" for n in range(items)]
    for k in keys:
        state.items[k] = Item(x=rng.random(), y=rng.random())
    encoder = Encoder(state)
    views: list[StateView] = []
    if kind == "views":
        for _ in range(clients):
            view = StateView()
            for k in rng.sample(keys, visible):
                view.add(state.items[k])
            views.append(view)
    elif kind == "one view":
        view = StateView()
        for k in rng.sample(keys, visible):
            view.add(state.items[k])
        views = [view]
    encoder.encode_all()
    for view in views:
        encoder.encode_all_view(view)
    encoder.discard()
    moving = max(1, items // 10)
    total = 0.0
    sent = 0
    for _ in range(ticks):
        for k in rng.sample(keys, moving):
            item = state.items[k]
            item.x += 0.5
            item.y -= 0.5
        start = time.perf_counter()
        patch = encoder.encode()
        parts = [encoder.encode_view(v) for v in views]
        total += time.perf_counter() - start
        sent += len(patch) * clients + sum(len(p) for p in parts) * (1 if kind == "views" else clients)
    encoder.close()
    return total / ticks * 1e6, sent / ticks / clients, len(views)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=1000)
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--visible", type=int, default=10)
    parser.add_argument("--ticks", type=int, default=400)
    args = parser.parse_args()
    print(f"{args.items} items (10 % move each tick), {args.clients} clients, views of {args.visible} items\n")
    print("| room | µs per tick | bytes per client per tick | view parts per tick |")
    print("|---|---|---|---|")
    results = {}
    for kind in ("shared", "views", "one view"):
        runs = [run(kind, args.items, args.clients, args.visible, args.ticks, seed) for seed in range(5)]
        us = statistics.median(r[0] for r in runs)
        results[kind] = us
        print(f"| {kind} | {us:,.0f} | {statistics.median(r[1] for r in runs):,.1f} | {runs[0][2]} |")
    print(f"\nviews ÷ shared: {results['views'] / results['shared']:.2f}; "
          f"one shared view ÷ shared: {results['one view'] / results['shared']:.2f} (measured in this run)")


if __name__ == "__main__":
    main()
