"""The WebSocket receive path alone: the server CPU one client message costs.

    python -m bench.ws_receive [--connections 500] [--rate 20] [--seconds 10] [--runs 2]

A server process on uvloop accepts the connections and turns every masked
binary frame it reads into its payload as ``bytes``, nothing more, with:

* ``pyseus``: ``pyseus.protocol.websocket.FrameParser`` on a plain
  ``asyncio.Protocol`` (the parser the room server's connections use);
* ``picows``: picows (a WebSocket library compiled with Cython), when it is
  installed (``pip install picows``; it is not a dependency of pyseus).

This process is the client: blocking sockets on 127.0.0.1, each sending the
same 45-byte input message ``--rate`` times a second at its own phase, so that
each read carries one frame, as with game clients. Reported: the server's CPU
(utime + stime from /proc) per message over the window. Kinds alternate run by
run, so that a slow minute of the machine does not fall on one of them.
"""
from __future__ import annotations

import argparse
import asyncio
import base64
import os
import socket
import subprocess
import sys
import threading
import time
from typing import Any

from bench.proc import cpu_seconds
from pyseus import protocol
from pyseus.protocol import websocket

MESSAGE = protocol.room_data("input", {"x": 1.5, "y": 2.5, "angle": 0.5})


# ---------------------------------------------------------------- the servers (child process)

async def _serve(kind: str) -> None:
    loop = asyncio.get_running_loop()
    count = [0]
    stop = asyncio.Event()
    if kind == "pyseus":
        class Plain(asyncio.Protocol):
            def connection_made(self, transport: Any) -> None:
                self.transport = transport
                self.head = b""
                self.parser: websocket.FrameParser | None = None

            def data_received(self, data: bytes) -> None:
                if self.parser is None:
                    self.head += data
                    end = self.head.find(b"\r\n\r\n")
                    if end < 0:
                        return
                    head, data = self.head[:end].decode("latin-1"), self.head[end + 4:]
                    key = next(line.split(":", 1)[1].strip() for line in head.split("\r\n")
                               if line.lower().startswith("sec-websocket-key:"))
                    self.transport.write(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                                          "Connection: Upgrade\r\nSec-WebSocket-Accept: "
                                          f"{websocket.accept_key(key)}\r\n\r\n").encode())
                    self.parser = websocket.FrameParser(1 << 20, masked=True)
                    if not data:
                        return
                for op, payload in self.parser.feed(data):
                    count[0] += 1
        server: Any = await loop.create_server(Plain, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
    else:
        import picows

        class Listener(picows.WSListener):
            def on_ws_frame(self, transport: Any, frame: Any) -> None:
                frame.get_payload_as_bytes()
                count[0] += 1
        server = await picows.ws_create_server(lambda request: Listener(), "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
    print(port, flush=True)
    threading.Thread(target=lambda: (sys.stdin.read(), loop.call_soon_threadsafe(stop.set)), daemon=True).start()
    await stop.wait()
    print(count[0], flush=True)
    server.close()


# ---------------------------------------------------------------- the client (this process)

def _connect(port: int, n: int) -> list[socket.socket]:
    socks = []
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", port))
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        key = base64.b64encode(os.urandom(16)).decode()
        s.sendall((f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                   f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
        answer = b""
        while b"\r\n\r\n" not in answer:
            chunk = s.recv(4096)
            if not chunk:
                raise ConnectionError("the server closed during the handshake")
            answer += chunk
        if not answer.startswith(b"HTTP/1.1 101"):
            raise ConnectionError(f"handshake refused: {answer[:80]!r}")
        socks.append(s)
    return socks


def run_one(kind: str, connections: int, rate: float, seconds: float) -> dict[str, Any]:
    child = subprocess.Popen([sys.executable, "-m", "bench.ws_receive", "--serve", kind],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert child.stdin is not None and child.stdout is not None
    try:
        port = int(child.stdout.readline())
        socks = _connect(port, connections)
        frames = [websocket.frame(websocket.BINARY, MESSAGE, mask=True) for _ in range(997)]
        step = 1 / (rate * connections)
        warmup = 1.0
        start = time.monotonic()
        cpu0 = None
        sent = sent_at_window = 0
        i = 0
        while True:
            now = time.monotonic()
            if cpu0 is None and now - start >= warmup:
                cpu0, t0, sent_at_window = cpu_seconds(child.pid), now, sent
            if now - start >= warmup + seconds:
                break
            due = start + sent * step
            if due > now:
                time.sleep(due - now)
            socks[i].send(frames[sent % len(frames)])
            sent += 1
            i = (i + 1) % connections
        cpu = cpu_seconds(child.pid) - cpu0
        window = time.monotonic() - t0
        time.sleep(0.3)         # (the last frames are read)
        out, _ = child.communicate("", timeout=10)
        received = int(out.split()[-1])
        for s in socks:
            s.close()
        messages = sent - sent_at_window
        return {"kind": kind, "sent": sent, "received": received, "cpu_percent": 100 * cpu / window,
                "us_per_message": 1e6 * cpu / messages, "rate": messages / window}
    finally:
        if child.poll() is None:
            child.kill()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--connections", type=int, default=500)
    parser.add_argument("--rate", type=float, default=20.0, help="messages per second per connection")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--serve", choices=("pyseus", "picows"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        import uvloop
        uvloop.run(_serve(args.serve))
        return 0
    kinds = ["pyseus"]
    try:
        import picows  # noqa: F401
        kinds.append("picows")
    except ImportError:
        print("picows is not installed: its row is left out (pip install picows)", file=sys.stderr)
    print(f"{args.connections} connections x {args.rate:g} messages/s, {args.seconds:g} s per run, uvloop")
    print("| run | server | messages/s | received / sent | server CPU % | server CPU µs per message |")
    print("|---|---|---|---|---|---|")
    for run in range(args.runs):
        for kind in (kinds if run % 2 == 0 else kinds[::-1]):
            r = run_one(kind, args.connections, args.rate, args.seconds)
            print(f"| {run + 1} | {kind} | {r['rate']:,.0f} | {r['received']:,} / {r['sent']:,} | "
                  f"{r['cpu_percent']:.1f} | {r['us_per_message']:.2f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
