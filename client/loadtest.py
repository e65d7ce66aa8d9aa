"""Load test: many clients in one room type, with a live progress line and a summary.

    python -m pyseus.client.loadtest --endpoint http://127.0.0.1:2567 --room my_room --clients 500 \\
        [--method join_or_create|create|join|join_by_id] [--options JSON] [--auth-token TOKEN] \\
        [--duration 60] [--send-rate N] [--message-type move] [--message JSON] \\
        [--ramp SECONDS] [--warmup SECONDS] [--loop auto|asyncio|uvloop] [--decode full|frames]
        [--json] [--quiet]

Clients join with ``--method`` (``--room`` is the room id for ``join_by_id``),
sending ``--options`` and, with ``--auth-token``, the token the server's
``on_auth`` sees. They join over ``--ramp`` seconds (default: 100 per second), each optionally
sending ``--send-rate`` messages per second, until ``--duration`` seconds after
the start; then they leave and the summary is printed (``--json``: as one JSON
object). Rates, patch intervals and CPU are measured from ``--warmup`` seconds
after the start (and not before the ramp has ended) to the end; counts of joins
and of messages sent cover the whole run. The exit status is 1 when no client
could join.
"""
from __future__ import annotations

import argparse
import array
import asyncio
import collections
import json
import logging
import os
import random
import resource
import sys
import time
from dataclasses import dataclass, field
from collections.abc import Callable, Sequence
from typing import Any

from pyseus import protocol
from pyseus.loop import LOOPS, TIMER_SLACK, event_loop_factory

from .client import Client
from .errors import MatchMakeError
from .room import Room

__all__ = ["LoadTest", "main", "JOIN_METHODS"]

JOIN_METHODS = ("join_or_create", "create", "join", "join_by_id")
_SLOTS = 10                 # phases of the send period (at 20 Hz: a send every 5 ms)
SATURATED_CPU = 85.0        # % of a core past which the generator, not the server, may be the limit


def _rss_bytes() -> int:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _percentile(values: Sequence[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


@dataclass
class LoadTest:
    """One run; ``run()`` returns the summary dict."""
    endpoint: str
    room: str
    clients: int
    options: dict[str, Any] = field(default_factory=dict)
    duration: float = 60.0
    send_rate: float = 0.0
    message_type: str = "move"
    message: Any = None
    ramp: float | None = None
    warmup: float = 0.0
    progress: bool = True
    method: str = "join_or_create"
    auth_token: str | None = None
    decode: bool = True                      # False: frames are checked and counted, states not decoded

    def __post_init__(self) -> None:
        if self.method not in JOIN_METHODS:
            raise ValueError(f"method must be one of {', '.join(JOIN_METHODS)}, not {self.method!r}")
        self.rooms: list[Room[Any]] = []
        self.failures: collections.Counter[str] = collections.Counter()
        self.closed: collections.Counter[int] = collections.Counter()
        self.sent = 0
        self.intervals = array.array("d")      # ms between patches, per room
        # the sending rooms by phase: slot i sends at i/_SLOTS of each period
        self._slots: list[list[Room[Any]]] = [[] for _ in range(_SLOTS)]

    async def run(self) -> dict[str, Any]:
        ramp = self.ramp if self.ramp is not None else self.clients / 100
        client = Client(self.endpoint, timeout=max(10.0, self.duration), auth_token=self.auth_token,
                        decode_state=self.decode)
        start = measure_start = time.monotonic()
        cpu_start = time.process_time()
        base = self._totals()
        deadline = start + self.duration
        tasks: list[asyncio.Task[None]] = []
        reporter = asyncio.ensure_future(self._report_progress(start)) if self.progress else None
        sender = asyncio.ensure_future(self._send_messages()) if self.send_rate > 0 else None
        try:
            for i in range(self.clients):
                due = start + (ramp * i / self.clients if self.clients else 0)
                if due >= deadline:
                    self.failures["not started before the end of the run"] += self.clients - i
                    break
                await asyncio.sleep(max(0.0, due - time.monotonic()))
                tasks.append(asyncio.ensure_future(self._one_client(client, deadline)))
            await asyncio.sleep(max(0.0, min(deadline, start + self.warmup) - time.monotonic()))
            # the measured window starts here
            base = self._totals()
            measure_start, cpu_start = time.monotonic(), time.process_time()
            self.intervals = array.array("d")
            await asyncio.sleep(max(0.0, deadline - time.monotonic()))
        finally:
            end = time.monotonic()
            elapsed = end - measure_start
            cpu = time.process_time() - cpu_start
            totals = self._totals()
            counted = {k: totals[k] - base[k] for k in ("messages", "patches", "bytes")}
            for task in tasks:
                task.cancel()
            if sender is not None:
                tasks.append(sender)
                sender.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            if reporter is not None:
                reporter.cancel()
                await asyncio.gather(reporter, return_exceptions=True)
                print(file=sys.stderr)
            await client.close()
        return {
            "endpoint": self.endpoint, "room": self.room, "clients": self.clients,
            "duration_s": round(end - start, 3),
            "measured_s": round(elapsed, 3),
            "connected": totals["connected"],
            "failed": sum(self.failures.values()),
            "failures": dict(self.failures),
            "disconnected": dict((str(k), v) for k, v in self.closed.items()),
            "messages_sent": self.sent,
            "messages_received": counted["messages"],
            "patches_received": counted["patches"],
            "bytes_received": counted["bytes"],
            "messages_per_s": counted["messages"] / elapsed if elapsed else 0.0,
            "patches_per_s": counted["patches"] / elapsed if elapsed else 0.0,
            "bytes_per_s": counted["bytes"] / elapsed if elapsed else 0.0,
            "patch_interval_p50_ms": _percentile(self.intervals, 50),
            "patch_interval_p99_ms": _percentile(self.intervals, 99),
            "decode": self.decode,
            "cpu_percent": 100 * cpu / elapsed if elapsed else 0.0,
            "rss_mb": _rss_bytes() / 2**20,
        }

    async def _one_client(self, client: Client, deadline: float) -> None:
        try:
            room = await getattr(client, self.method)(self.room, dict(self.options))
        except MatchMakeError as e:
            self.failures[f"MatchMakeError {e.code}: {e.message}"] += 1
            return
        except (ConnectionError, TimeoutError, OSError) as e:
            self.failures[f"{type(e).__name__}: {e}"] += 1
            return
        self.rooms.append(room)
        room.on_message("*", lambda type, message: None)   # counted in room.stats
        room.on_state_change(self._patch_clock())
        slot = self._slots[random.randrange(_SLOTS)]

        def left(code: int) -> None:
            if room in slot:
                slot.remove(room)
            if time.monotonic() < deadline:
                self.closed.update([code])
        room.on_leave(left)
        if self.send_rate > 0:
            slot.append(room)

    async def _send_messages(self) -> None:
        # One task sends for every client (a task per client would cost a wakeup
        # per message): each period is cut into _SLOTS phases, and a room sends
        # once a period, in the phase it drew when it joined. A late wakeup sends
        # the phases it missed, each once: never a burst from one client.
        period = 1 / self.send_rate
        frame = protocol.room_data(self.message_type, self.message)     # (the same bytes every time)
        start = time.monotonic()
        done = 0            # phases sent so far
        while True:
            due = int((time.monotonic() - start + TIMER_SLACK) * _SLOTS / period) + 1
            for phase in range(max(done, due - _SLOTS), due):
                slot = self._slots[phase % _SLOTS]
                for room in slot:
                    if room.connected:
                        room._send_now(frame)
                        self.sent += 1
            done = due
            await asyncio.sleep(max(0.0, start + done * period / _SLOTS - time.monotonic()))

    def _patch_clock(self) -> Callable[[Any], None]:
        # one room's state listener: the time between its patches, into self.intervals
        last = 0.0

        def arrived(state: Any) -> None:
            nonlocal last
            now = time.monotonic()
            if last:
                self.intervals.append((now - last) * 1000)
            last = now
        return arrived

    def _totals(self) -> dict[str, int]:
        return {
            "connected": len(self.rooms),
            "messages": sum(r.stats.messages for r in self.rooms),
            "patches": sum(r.stats.patches for r in self.rooms),
            "bytes": sum(r.stats.bytes_received for r in self.rooms),
        }

    async def _report_progress(self, start: float) -> None:
        tty = sys.stderr.isatty()
        before = self._totals()
        cpu_before, wall_before = time.process_time(), time.monotonic()
        while True:
            await asyncio.sleep(1.0)
            now, cpu_now = time.monotonic(), time.process_time()
            totals = self._totals()
            wall = now - wall_before or 1.0
            line = (f"[{now - start:6.1f}s] connected {sum(1 for r in self.rooms if r.connected)}/{self.clients}"
                    f"  failed {sum(self.failures.values())}"
                    f"  msgs/s {(totals['messages'] - before['messages']) / wall:8.0f}"
                    f"  patches/s {(totals['patches'] - before['patches']) / wall:8.0f}"
                    f"  KB/s {(totals['bytes'] - before['bytes']) / wall / 1024:8.1f}"
                    f"  cpu {100 * (cpu_now - cpu_before) / wall:5.1f}%"
                    f"  rss {_rss_bytes() / 2**20:6.1f} MB")
            print(("\r" + line) if tty else line, end="" if tty else "\n", file=sys.stderr, flush=True)
            before, cpu_before, wall_before = totals, cpu_now, now


def format_summary(summary: dict[str, Any]) -> str:
    """The summary as an aligned two-column table."""
    def ms(value: float | None) -> str:
        return "-" if value is None else f"{value:.1f} ms"

    rows = [
        ("endpoint / room", f"{summary['endpoint']} / {summary['room']}"),
        ("duration (measured)", f"{summary['duration_s']:.1f} s ({summary['measured_s']:.1f} s)"),
        ("connected", f"{summary['connected']} / {summary['clients']}"),
        ("failed joins", str(summary["failed"])),
        ("closed during the run", ", ".join(f"{n} x {code}" for code, n in summary["disconnected"].items()) or "0"),
        ("messages sent", str(summary["messages_sent"])),
        ("messages received / s", f"{summary['messages_per_s']:.1f}"),
        ("patches received / s", f"{summary['patches_per_s']:.1f}"),
        ("bytes received / s", f"{summary['bytes_per_s']:.0f}"),
        ("patch interval p50", ms(summary["patch_interval_p50_ms"])),
        ("patch interval p99", ms(summary["patch_interval_p99_ms"])),
        ("states", "decoded" if summary.get("decode", True) else "counted, not decoded (--decode frames)"),
        ("process CPU", f"{summary['cpu_percent']:.1f} %"),
        ("process memory (RSS)", f"{summary['rss_mb']:.1f} MB"),
    ]
    if summary["cpu_percent"] >= SATURATED_CPU:
        rows.append(("warning", "this generator used most of a core: it, not the server, may be the limit "
                                "(try --decode frames, or several generators)"))
    width = max(len(k) for k, _ in rows)
    lines = [f"{k.ljust(width)}  {v}" for k, v in rows]
    at = 4      # failure reasons go under "failed joins"
    for reason, count in sorted(summary["failures"].items(), key=lambda item: -item[1]):
        lines.insert(at, f"{'':{width}}    {count} x {reason[:120]}")
        at += 1
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pyseus.client.loadtest", description=__doc__.split("\n")[0])
    parser.add_argument("--endpoint", default="http://127.0.0.1:2567")
    parser.add_argument("--room", required=True, help="room name (the room id for --method join_by_id)")
    parser.add_argument("--method", choices=JOIN_METHODS, default="join_or_create", help="how clients join")
    parser.add_argument("--clients", type=int, default=10)
    parser.add_argument("--options", type=json.loads, default={}, help="join options (JSON object)")
    parser.add_argument("--auth-token", default=None, help="sent as the Bearer token and _authToken")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds, from the start")
    parser.add_argument("--send-rate", type=float, default=0.0, help="messages per second per client")
    parser.add_argument("--message-type", default="move")
    parser.add_argument("--message", type=json.loads, default=None, help="message payload (JSON)")
    parser.add_argument("--ramp", type=float, default=None, help="seconds over which clients join")
    parser.add_argument("--warmup", type=float, default=0.0, help="seconds before the measurements start")
    parser.add_argument("--loop", choices=LOOPS, default="auto",
                        help="event loop (auto: uvloop when it is installed)")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    parser.add_argument("--quiet", action="store_true", help="no progress line")
    parser.add_argument("--decode", choices=("full", "frames"), default="full",
                        help="full: decode every state and patch (default); frames: check and count them "
                             "without decoding (a cheaper generator, for many clients)")
    args = parser.parse_args(argv)
    if not isinstance(args.options, dict):
        parser.error("--options must be a JSON object")
    if args.clients < 0 or args.duration <= 0 or args.send_rate < 0:
        parser.error("--clients, --duration and --send-rate must be positive")
    logging.basicConfig(level=logging.ERROR, format="%(levelname)s %(name)s: %(message)s")
    test = LoadTest(args.endpoint, args.room, args.clients, args.options, args.duration, args.send_rate,
                    args.message_type, args.message, args.ramp, args.warmup, not args.quiet, args.method,
                    args.auth_token, args.decode == "full")
    try:
        with asyncio.Runner(loop_factory=event_loop_factory(args.loop)) as runner:
            summary = runner.run(test.run())
    except KeyboardInterrupt:
        return 130
    print(json.dumps(summary) if args.json else format_summary(summary))
    return 0 if summary["connected"] else 1


if __name__ == "__main__":
    sys.exit(main())
