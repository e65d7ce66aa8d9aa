"""The Python client against real Colyseus 0.16, 0.17 and 0.18 servers in node
(tests/interop/node_server.mjs)."""
from __future__ import annotations

import asyncio
from typing import Any

import pytest

from pyseus.client import Client, MatchMakeError, RequestError
from pyseus.protocol.generations import wire_error_code
from tests.client.rooms import Player, World


async def _until(room: Any, check: Any, patches: int = 100) -> None:
    """Wait for patches until ``check()`` holds (bounded)."""
    for _ in range(patches):
        if check():
            return
        await room.wait_for_next_patch()
    raise AssertionError("the state never got there")


async def test_join_and_state_sync(node_server: str) -> None:
    async with Client(node_server) as client:
        ann = await client.join_or_create("game", {"name": "Ann"})
        added: list[str] = []
        ann.callbacks.on_add(ann.state, "players", lambda player, key: added.append(key))
        bob = await client.join_or_create("game", {"name": "Bob"})
        assert bob.room_id == ann.room_id and bob.name == "game"
        bob.send("move", {"x": 3, "y": -4.5})
        bob.send("log", "hello")

        def synced() -> bool:
            players = ann.state.to_json()["players"]
            return players.get(bob.session_id, {}).get("x") == 3 and ann.state.log.to_json() == ["hello"]

        await _until(ann, synced)
        assert ann.state.players[bob.session_id].to_json() == {"name": "Bob", "x": 3, "y": -4.5, "hp": 100}
        assert added == [ann.session_id, bob.session_id]
        tick = ann.state.tick
        await _until(ann, lambda: ann.state.tick > tick)
        assert bob.state.to_json()["players"] == ann.state.to_json()["players"]


async def test_state_into_our_classes(node_server: str) -> None:
    async with Client(node_server) as client:
        room = await client.join_or_create("game", {"name": "Ann"}, state_cls=World)
        await _until(room, lambda: room.session_id in room.state.players)
        assert isinstance(room.state, World) and isinstance(room.state.players[room.session_id], Player)
        assert room.state.players[room.session_id].name == "Ann"


async def test_messages_both_ways(node_server: str) -> None:
    async with Client(node_server) as client:
        client.auth_token = "tok"
        room = await client.join_or_create("game")
        assert await room.wait_for_message("welcome") == {"sessionId": room.session_id, "auth": {"token": "tok"}}
        nested = {"a": {"b": [1, {"c": "deep"}]}, "n": -12, "f": 0.25, "s": "ünïcode", "t": True, "z": None}
        room.send("echo", nested)
        assert await room.wait_for_message("echo") == nested
        room.send("types", [1, 2])
        got = await room.wait_for_message("types")
        assert got == {"int": 42, "neg": -7, "big": 2**40, "float": 1.5, "str": "héllo", "bool": True, "nil": None,
                       "list": [1, "two", {"three": [3]}], "nested": {"a": {"b": {"c": "deep"}}}, "echo": [1, 2]}
        assert isinstance(got["big"], (int, float)) and got["big"] == 1099511627776
        room.send(7, {"number": "type"})
        assert await room.wait_for_message(7) == {"number": "type"}
        room.send_bytes("bytes", b"\x00\xfe")
        assert await room.wait_for_message("bytes") == b"\x00\xfe"
        room.send("something_else", {"k": [1]})
        assert await room.wait_for_message("wildcard") == {"type": "something_else", "message": {"k": [1]}}
        errors: list[Any] = []
        room.on_error(lambda code, message: errors.append((code, message)))
        room.send("error")
        room.send("echo", 1)
        await room.wait_for_message("echo")
        assert errors == [(4999, "custom error")]


async def test_errors(node_server: str, generation: str) -> None:
    async with Client(node_server) as client:
        with pytest.raises(MatchMakeError) as e:
            await client.join_or_create("game", {"reject": True})
        assert (e.value.code, e.value.message) == (4444, "rejected by onAuth")
        with pytest.raises(MatchMakeError) as e:
            await client.join("nothing")
        assert e.value.code == wire_error_code(4210, generation)        # 520 in 0.17+
        with pytest.raises(MatchMakeError):
            await client.get_available_rooms("game")     # Node has no such route


async def _reconnect(client: Client, token: str) -> Any:
    # the server handles the close a moment after our side of it: retry, bounded
    for _ in range(40):
        try:
            return await client.reconnect(token)
        except MatchMakeError:
            await asyncio.sleep(0.05)
    return await client.reconnect(token)


async def test_leave_and_reconnect(node_server: str, generation: str) -> None:
    async with Client(node_server) as client:
        room = await client.join_or_create("game", {"name": "Ann"})
        token = room.reconnection_token
        await room.leave(consented=False)
        again = await _reconnect(client, token)
        assert (again.room_id, again.session_id) == (room.room_id, room.session_id)
        assert await again.wait_for_message("reconnected") == {"sessionId": room.session_id}
        await _until(again, lambda: again.session_id in again.state.players)
        assert again.state.players[again.session_id].name == "Ann"
        kicked = await client.join_or_create("game")
        kicked.send("kick", 4040)
        assert await kicked.wait_for_leave() == 4040
        assert await again.leave() == 4000
        with pytest.raises(MatchMakeError) as e:
            await client.reconnect(again.reconnection_token)
        assert e.value.code in (wire_error_code(4212, generation), wire_error_code(4214, generation))


async def test_requests_pings_and_automatic_reconnection(node_server: str, generation: str) -> None:
    async with Client(node_server) as client:
        room = await client.join_or_create("game", {"name": "Ann"})
        if generation == "0.18":
            assert await room.request("ask", {"q": 1}) == {"answer": {"q": 1}}
            with pytest.raises(RequestError) as e:
                await room.request("boom")
            assert (e.value.name, e.value.message, e.value.code) == ("ServerError", "boom", 4321)
        if generation == "0.16":
            with pytest.raises(TimeoutError):
                await room.ping(timeout=0.3)
            return
        assert 0 <= await room.ping() < 1000
        room.reconnection.min_uptime = 0
        drops: list[int] = []
        room.on_drop(drops.append)
        room.send("drop-me")                 # the Node room closes us with 1001
        assert await room.wait_for_message("reconnected") == {"sessionId": room.session_id}
        assert drops == [1001] and room.connected
        room.send("move", {"x": 8, "y": 0})
        await _until(room, lambda: room.state.players[room.session_id].x == 8)
        assert room.state.players[room.session_id].name == "Ann"
