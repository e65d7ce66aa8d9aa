"""Requests between processes (pyseus.server.cluster) over the in-memory presence."""
from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import pytest

from pyseus.protocol import ErrorCode
from pyseus.server import LocalDriver, ServerError
from pyseus.server.cluster import IPC_TIMEOUT, NODES, ROOMCOUNT, Cluster, RemoteTimeout
from pyseus.server.presence import LocalPresence


async def test_a_request_gets_the_answer_or_the_remote_error() -> None:
    presence = LocalPresence()
    here = Cluster(presence, LocalDriver(), "A")
    there = Cluster(presence, LocalDriver(), "B")

    async def handler(method: Any, args: list[Any]) -> Any:
        if method == "add":
            return sum(args)
        if method == "refuse":
            raise ServerError(ErrorCode.MATCHMAKE_INVALID_ROOM_ID, "no such room")
        raise RuntimeError("a bug")

    await there.start("127.0.0.1:1", handler)
    assert await here.request("p:B", "add", [1, 2]) == 3
    with pytest.raises(ServerError) as refused:
        await here.request("p:B", "refuse", [])
    assert (refused.value.code, refused.value.message) == (ErrorCode.MATCHMAKE_INVALID_ROOM_ID, "no such room")
    with pytest.raises(ServerError, match="internal error"):
        await here.request("p:B", "crash", [])
    assert await presence.smembers(NODES) == ["B/127.0.0.1:1"] and await presence.hgetall(ROOMCOUNT) == {"B": "0,0"}
    await there.stop()
    assert await presence.smembers(NODES) == [] and await presence.hgetall(ROOMCOUNT) == {}


async def test_malformed_requests_and_answers_are_ignored(caplog: pytest.LogCaptureFixture) -> None:
    presence = LocalPresence()
    there = Cluster(presence, LocalDriver(), "B")
    calls: list[Any] = []

    async def handler(method: Any, args: list[Any]) -> Any:
        calls.append((method, args))
        return True
    await there.serve("p:B", handler)
    with caplog.at_level(logging.WARNING, "pyseus.server.cluster"):
        for junk in ("text", 42, None, [], ["m"], ["m", 7, []], {"a": 1}):
            await presence.publish("p:B", junk)
    assert calls == [] and "not [method, requestId, args]" in caplog.text
    await presence.publish("p:B", ["m", "rid", "not a list"])      # (args that are not a list: none)
    assert calls == [("m", [])]
    # an answer of the wrong shape fails the request, it does not crash it
    here = Cluster(presence, LocalDriver(), "A")

    async def bad_answer(message: Any) -> None:
        await presence.publish(f"ipc:{message[1]}", {"not": "an answer"})
    await presence.subscribe("p:C", bad_answer)
    with pytest.raises(ServerError, match="malformed answer"):
        await here.request("p:C", "healthcheck", [])


async def test_a_silent_process_times_out_and_is_removed() -> None:
    presence = LocalPresence()
    driver = LocalDriver()
    here = Cluster(presence, driver, "A")
    await presence.hset(ROOMCOUNT, "ghost", "3,10")
    await presence.sadd(NODES, "ghost/10.0.0.9:2567")
    loop = asyncio.get_running_loop()
    start = loop.time()
    with pytest.raises(RemoteTimeout):
        await here.request("p:ghost", "healthcheck", [], "ghost")
    assert IPC_TIMEOUT <= loop.time() - start < IPC_TIMEOUT + 1
    assert not await here.check("ghost")
    assert await presence.hgetall(ROOMCOUNT) == {} and await presence.smembers(NODES) == []


async def test_the_process_with_the_fewest_rooms_creates() -> None:
    presence = LocalPresence()
    here = Cluster(presence, LocalDriver(), "A")
    await presence.hset(ROOMCOUNT, "A", "2,5")
    await presence.hset(ROOMCOUNT, "B", "1,9")
    await presence.hset(ROOMCOUNT, "C", "junk")
    assert await here.least_busy() == "B"
    await presence.hset(ROOMCOUNT, "B", "2,0")
    assert await here.least_busy() == "A"        # (a tie: this one)
    assert json.loads(json.dumps(await presence.hgetall(ROOMCOUNT)))["C"] == "junk"
