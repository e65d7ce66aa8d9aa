"""The arena of the hostile-client suite: a server as it would face the internet,
well-behaved clients that measure what an attack costs them, and an attacker in
a process of its own.

The server trusts 127.0.0.1 as a reverse proxy, so that every client names its
own address in ``X-Forwarded-For`` (the attacker is 10.6.6.6, the bystanders
10.0.0.x), and the per-address rate limit applies to loopback as it would to
internet clients.
"""
from __future__ import annotations

import asyncio
import gc
import itertools
import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest

from pyseus import protocol
from pyseus.client import Client
from pyseus.schema import Schema, uint32
from pyseus.server import Limits, Room, Server
from tests.node import TESTS_DIR
from tests.server.raw import reserve

PATCH_MS = 50


class Tick(Schema):
    tick: uint32 = 0


class Game(Room[Tick]):
    """A state that changes every patch (so every patch period sends one), and a chat."""

    def on_create(self, options: dict[str, Any]) -> None:
        self.set_state(Tick())
        self.set_patch_rate(PATCH_MS)
        self.set_simulation_interval(self.step, PATCH_MS)
        self.spam = 0
        self.on_message("spam", self.count)
        self.on_message("chat", lambda client, message: self.broadcast("chat", message))
        self.on_message("size", lambda client, n: client.send("blob", "x" * min(int(n), 200_000)))

    def step(self, delta: float) -> None:
        self.state.tick += 1

    def count(self, client: Any, message: Any) -> None:
        self.spam += 1


HOSTILE_LIMITS = dict(rate_limit_exempt=())


_OPEN: list[Any] = []         # clients to close at the end of the test


@pytest.fixture(autouse=True)
async def _close_bystanders():
    yield
    while _OPEN:
        await _OPEN.pop().close()


@pytest.fixture
def profile() -> str:
    return "auto"       # (limits do not depend on the client generation)


@pytest.fixture
async def arena(start_server):
    """``await arena(**Limits overrides)``: a Server with rooms "game" and "other"."""
    async def start(server_options: dict[str, Any] | None = None, **limits: Any) -> Server:
        options = dict(server_options or {})
        options.setdefault("trusted_proxies", ["127.0.0.1"])
        return await start_server({"game": Game, "other": Game},
                                  limits=Limits(**{**HOSTILE_LIMITS, **limits}), **options)
    return start


def endpoint(server: Server) -> str:
    return f"http://127.0.0.1:{server.port}"


@dataclass
class Bystander:
    """A well-behaved client: the times its patches arrived."""
    client: Client
    room: Any
    arrivals: list[float] = field(default_factory=list)
    closed: list[int] = field(default_factory=list)

    def largest_gap(self, since: float, until: float | None = None) -> float:
        """The longest time without a patch between ``since`` and ``until`` (seconds)."""
        until = until if until is not None else time.monotonic()
        times = [since] + [t for t in self.arrivals if since < t < until] + [until]
        return max(b - a for a, b in zip(times, times[1:]))


async def bystander(server: Server, address: str, *, room_id: str | None = None,
                    name: str = "game") -> Bystander:
    client = Client(endpoint(server), headers={"X-Forwarded-For": address})
    _OPEN.append(client)
    room = await (client.join_by_id(room_id) if room_id else client.join_or_create(name))
    watch = Bystander(client, room)
    room.on_state_change(lambda state: watch.arrivals.append(time.monotonic()))
    room.on_leave(watch.closed.append)
    await room.wait_for_next_patch()
    return watch


class Listener:
    """A raw room socket that acknowledges its join and counts what it receives, nothing more."""

    def __init__(self, http: aiohttp.ClientSession, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.http, self.ws = http, ws
        self.received = 0
        self._reader = asyncio.ensure_future(self._read())

    async def _read(self) -> None:
        async for _ in self.ws:
            self.received += 1

    @property
    def closed(self) -> bool:
        return self.ws.closed

    async def close(self) -> None:
        self._reader.cancel()
        await self.ws.close()
        await self.http.close()


_addresses = itertools.count(1)


async def listener(server: Server, room_id: str) -> Listener:
    n = next(_addresses)
    address = {"X-Forwarded-For": f"10.0.{2 + n // 250}.{n % 250}"}
    http = aiohttp.ClientSession(headers=address)
    seat = await reserve(endpoint(server), "joinById", room_id, headers=address)
    ws = await http.ws_connect(f"ws://127.0.0.1:{server.port}/{seat['room']['processId']}/{room_id}"
                               f"?sessionId={seat['sessionId']}")
    await ws.send_bytes(protocol.join_ack())
    sock = Listener(http, ws)
    _OPEN.append(sock)
    return sock


async def timed_join(server: Server, address: str, name: str = "other") -> float:
    """How long a new client takes to join a room (and leave it again)."""
    client = Client(endpoint(server), headers={"X-Forwarded-For": address})
    start = time.monotonic()
    room = await client.join_or_create(name)
    elapsed = time.monotonic() - start
    await room.leave()
    await client.close()
    return elapsed


def allocated_blocks() -> int:
    """The interpreter's allocated memory blocks, after a full collection."""
    for _ in range(3):
        gc.collect()
    return sys.getallocatedblocks()


async def attack(*args: str | int | float, timeout: float = 60) -> dict[str, Any]:
    """Run the attacker process (``tests/server/hostile/attacker.py``) to its end."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.server.hostile.attacker", *map(str, args), cwd=TESTS_DIR.parent,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout)
    except asyncio.TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    assert proc.returncode == 0, err.decode(errors="replace")
    return json.loads(out.decode().strip().splitlines()[-1])  # type: ignore[no-any-return]


async def eventually(check: Callable[[], Any], timeout: float = 5.0, interval: float = 0.02) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(interval)
