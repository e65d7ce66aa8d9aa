"""The Python client against a real Colyseus 0.16 server in node (node_server.mjs)."""
from __future__ import annotations

from typing import Any

import pytest

from pyseus.client import Client, MatchMakeError
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


async def test_errors(node_server: str) -> None:
    async with Client(node_server) as client:
        with pytest.raises(MatchMakeError) as e:
            await client.join_or_create("game", {"reject": True})
        assert (e.value.code, e.value.message) == (4444, "rejected by onAuth")
        with pytest.raises(MatchMakeError) as e:
            await client.join("nothing")
        assert e.value.code == 4210
        with pytest.raises(MatchMakeError):
            await client.get_available_rooms("game")     # Node 0.16 has no such route


async def test_leave_and_reconnect(node_server: str) -> None:
    async with Client(node_server) as client:
        room = await client.join_or_create("game", {"name": "Ann"})
        token = room.reconnection_token
        await room.leave(consented=False)
        again = await client.reconnect(token)
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
        assert e.value.code in (4212, 4214)
