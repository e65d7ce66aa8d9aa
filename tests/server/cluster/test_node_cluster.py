"""A Node Colyseus 0.16 process and Python processes on one Redis (checklist items 57-58).

The Node side is @colyseus/core with @colyseus/redis-presence and
@colyseus/redis-driver from npm (tests/interop/node_cluster.mjs); clients are
the real colyseus.js and our own.
"""
from __future__ import annotations

import asyncio
import json
import signal
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest

from pyseus.client import Client
from tests.node import TESTS_DIR, require_node_modules
from tests.redis_server import free_port

from .conftest import Cluster


class NodeProcess:
    def __init__(self, redis_url: str) -> None:
        require_node_modules()
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(["node", str(TESTS_DIR / "interop" / "node_cluster.mjs"), str(self.port),
                                      redis_url], cwd=TESTS_DIR, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line.startswith(b"{"):
            raise RuntimeError(f"the node process did not start: {line!r}")
        self.process_id: str = json.loads(line)["processId"]

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()


@pytest.fixture
def node(cluster: Cluster) -> Iterator[Any]:
    started: list[NodeProcess] = []

    def start() -> NodeProcess:
        process = NodeProcess(cluster.redis.url)
        started.append(process)
        return process
    yield start
    for process in started:
        process.kill()


async def where_js(room: Any) -> dict[str, Any]:
    await room.send("where")
    return (await room.wait(kind="message", type="here"))["message"]


async def where(room: Any) -> dict[str, Any]:
    room.send("where")
    return await room.wait_for_message("here")


async def test_a_js_client_matchmaking_on_node_plays_in_a_python_room(cluster: Cluster, node: Any, js: Any) -> None:
    py = cluster.start("procPy")
    nd = node()
    async with Client(py.base) as ours:
        host = await ours.create("trio", {"mode": "z"})          # (a tie: the asking process creates)
        assert (await where(host))["processId"] == "procPy"
        through_node = await js.client(nd.base)
        by_id = await through_node.join_by_id(host.room_id)
        assert await where_js(by_id) == {"processId": "procPy", "roomId": host.room_id, "clients": 2}
        matched = await through_node.join_or_create("trio", {"mode": "z"})   # Node finds our listing
        assert (await where_js(matched))["roomId"] == host.room_id
        await matched.send("echo", {"hi": 1})
        assert (await matched.wait(kind="message", type="echo"))["message"] == {"hi": 1}
        # reconnect through Node into the Python room
        info = await by_id.info()
        await by_id.drop()
        back = await through_node.reconnect(info["reconnectionToken"])
        assert (await where_js(back))["processId"] == "procPy"
        assert (await back.info())["sessionId"] == info["sessionId"]


async def test_our_matchmaker_seats_clients_in_node_rooms(cluster: Cluster, node: Any, js: Any) -> None:
    py = cluster.start("procPy")
    nd = node()
    async with Client(py.base) as ours:
        await ours.create("trio", {"mode": "busy"})             # Python has a room: Node has fewer
        await asyncio.sleep(1.2)                                 # (Node reads room counts written each second)
        on_node = await (await js.client(nd.base)).create("trio", {"mode": "n"})
        node_room = await where_js(on_node)
        assert node_room["processId"] == nd.process_id
        by_id = await ours.join_by_id(node_room["roomId"])
        assert (await where(by_id))["processId"] == nd.process_id
        matched = await ours.join_or_create("trio", {"mode": "n"})          # we read Node's listing
        assert await where(matched) == {"processId": nd.process_id, "roomId": node_room["roomId"], "clients": 3}


async def _room_counts(cluster: Cluster, want: dict[str, int]) -> None:
    # Each process writes its own count to Redis when it starts and when its rooms
    # change; the choice of a host reads them, so the test waits until they are there.
    redis = cluster.redis.client()
    for _ in range(100):
        counts = redis.hgetall("roomcount")
        if all(counts.get(p, "").split(",")[0] == str(n) for p, n in want.items()):
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"room counts {redis.hgetall('roomcount')}, expected {want}")


async def test_creates_are_forwarded_both_ways(cluster: Cluster, node: Any, js: Any) -> None:
    py = cluster.start("procPy")
    nd = node()
    await _room_counts(cluster, {"procPy": 0, nd.process_id: 0})
    async with Client(py.base) as ours:
        first = await ours.create("trio")                 # a tie: here
        assert (await where(first))["processId"] == "procPy"
        await _room_counts(cluster, {"procPy": 1})
        second = await ours.create("trio")                # Node has fewer rooms: forwarded to it
        assert (await where(second))["processId"] == nd.process_id
        await asyncio.sleep(1.2)
        # now one each: Node creates the next one itself or forwards it; once it has more, it forwards
        through_node = await js.client(nd.base)
        hosts = []
        for _ in range(2):
            hosts.append((await where_js(await through_node.create("trio")))["processId"])
            await asyncio.sleep(1.2)
        assert "procPy" in hosts


async def test_each_side_removes_the_other_when_it_dies(cluster: Cluster, node: Any, js: Any) -> None:
    py = cluster.start("procPy")
    nd = node()
    redis = cluster.redis.client()
    async with Client(py.base) as ours:
        await ours.create("trio", {"mode": "a"})
        await asyncio.sleep(1.2)
        on_node = await (await js.client(nd.base)).create("trio", {"mode": "b"})
        assert (await where_js(on_node))["processId"] == nd.process_id
        nd.kill()
        # Node's room is still listed: we try it, get no answer, and remove that process
        room = await ours.join_or_create("trio", {"mode": "b"})
        assert (await where(room))["processId"] == "procPy"
        assert nd.process_id not in redis.hgetall("roomcount")
        assert all(json.loads(v)["processId"] != nd.process_id for v in redis.hgetall("roomcaches").values())
        # and the other way: a Node process removes a Python process that died (with its
        # room, still listed, that Node then tries)
        nd2 = node()
        py.signal(signal.SIGKILL)
        py.wait()
        through_node = await js.client(nd2.base)
        for _ in range(3):      # (Node fails the request that found the dead process)
            try:
                joined = await through_node.join_or_create("trio", {"mode": "a"})
                break
            except Exception:
                await asyncio.sleep(0.2)
        assert (await where_js(joined))["processId"] == nd2.process_id
        assert "procPy" not in redis.hgetall("roomcount")
        assert all(json.loads(v)["processId"] != "procPy" for v in redis.hgetall("roomcaches").values())
