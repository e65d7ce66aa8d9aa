"""The WebSocket join: conformance checklist items 17-26, and state sync with colyseus.js."""
from __future__ import annotations

import asyncio
import random
from typing import Any

import pytest

from pyseus.schema import ArraySchema, MapSchema, Reflection, Schema, field, float32, int32, string
from pyseus import protocol
from pyseus.server import Room, ServerError
from tests.server.conftest import JSError, endpoint, eventually, seen_code
from tests.server.raw import join, open_socket, reserve


class Player(Schema):
    name: string = ""
    x: float32 = 0.0
    y: float32 = 0.0


class World(Schema):
    players: MapSchema[Player] = field(default_factory=MapSchema)
    log: ArraySchema[string] = field(default_factory=ArraySchema)
    count: int32 = 0


class StateRoom(Room[World]):
    def on_create(self, options: dict[str, Any]) -> None:
        self.set_state(World())

    def on_join(self, client: Any, options: dict[str, Any], auth: Any = None) -> None:
        self.state.players[client.session_id] = Player(name=options.get("name", ""))
        client.send("welcome", {"sessionId": client.session_id})


class NoState(Room[Any]):
    def on_join(self, client: Any, options: dict[str, Any], auth: Any = None) -> None:
        client.send("hi")


async def test_17_ws_url_and_join_room_frame(start_server, profile) -> None:
    server = await start_server({"state_room": StateRoom})
    base = endpoint(server)
    seat = await reserve(base, "joinOrCreate", "state_room")
    room = seat["room"]
    sock = await open_socket(base, f"/{room['processId']}/{room['roomId']}", sessionId=seat["sessionId"])
    frame = await sock.next(protocol.JoinRoom)
    assert frame.serializer == "schema" and len(frame.reconnection_token) == 9
    raw = sock.raw[0]
    assert raw[:2] == bytes([0x0A, 9]) and raw[11:18] == b"\x06schema"
    if profile == "0.16":
        assert raw[18:] == frame.handshake == Reflection.encode(World)
    else:   # the JOIN_ROOM every generation parses: 5.x reflection, then the 3.x one for 0.16/0.17
        assert raw == protocol.join_room_polyglot(frame.reconnection_token, "schema", Reflection.encode(World, 5),
                                                  Reflection.encode(World))
        assert frame.handshake == Reflection.encode(World, 5)
        assert frame.sections == ((0x7F, b"\xff\x00" + Reflection.encode(World)),)
    await sock.close()


async def test_18_room_without_state(start_server, js) -> None:
    server = await start_server({"nostate": NoState})
    sock, _ = await join(endpoint(server), "nostate")
    frame = sock.frames[0]
    assert frame.serializer == "none" and frame.handshake == b""
    await sock.next(protocol.RoomData)
    await asyncio.sleep(0.15)
    assert not [f for f in sock.frames if isinstance(f, (protocol.RoomState, protocol.RoomPatch))]
    await sock.close()
    room = await (await js.client(endpoint(server))).join_or_create("nostate")
    assert (await room.info())["state"] is None


async def test_19_state_after_ack_then_queued_messages(start_server, js) -> None:
    server = await start_server({"state_room": StateRoom})
    sock, seat = await join(endpoint(server), "state_room", {"name": "Alice"})
    state = await sock.next(protocol.RoomState)
    welcome = await sock.next(protocol.RoomData)
    assert sock.frames.index(state) < sock.frames.index(welcome) and welcome.type == "welcome"
    assert welcome.message() == {"sessionId": seat["sessionId"]}
    await sock.close()
    room = await (await js.client(endpoint(server))).join_or_create("state_room", {"name": "Bob"})
    event = await room.wait(kind="state")
    assert event["state"]["players"][(await room.info())["sessionId"]]["name"] == "Bob"
    await room.wait(kind="message", type="welcome")


async def test_20_unusable_seats_get_error_0_and_close_4002(start_server, profile) -> None:
    class Short(Room[Any]):
        def on_create(self, options: dict[str, Any]) -> None:
            self.set_seat_reservation_time(0.3)
            self.auto_dispose = False

    server = await start_server({"r": Short})
    base = endpoint(server)
    seat = await reserve(base, "joinOrCreate", "r")
    pid, rid = seat["room"]["processId"], seat["room"]["roomId"]
    cases = [
        dict(path=f"/{pid}/{rid}", sessionId="wrong1234"),
        dict(path=f"/{pid}/unknownid", sessionId=seat["sessionId"]),
    ]
    for case in cases:
        sock = await open_socket(base, case.pop("path"), **case)
        error = await sock.next(protocol.ErrorMessage)
        assert (error.code, error.message) == (seen_code(0, profile), "seat reservation expired.")   # 524 in 0.17+
        assert await sock.closed() == 4002
    first = await open_socket(base, f"/{pid}/{rid}", sessionId=seat["sessionId"])
    await first.next(protocol.JoinRoom)
    second = await open_socket(base, f"/{pid}/{rid}", sessionId=seat["sessionId"])
    assert (await second.next(protocol.ErrorMessage)).code == seen_code(0, profile) and await second.closed() == 4002
    late = await reserve(base, "joinById", rid)
    await asyncio.sleep(0.5)
    sock = await open_socket(base, f"/{pid}/{rid}", sessionId=late["sessionId"])
    assert (await sock.next(protocol.ErrorMessage)).message == "seat reservation expired."
    assert await sock.closed() == 4002
    await first.close()


async def test_21_instance_auth_failure(start_server, js, profile) -> None:
    class Auth(Room[Any]):
        async def on_auth(self, client: Any, options: dict[str, Any], request: Any) -> Any:
            await asyncio.sleep(0.01)
            if options.get("mode") == "raise":
                raise ServerError(4998, "x")
            return options.get("mode") == "ok"

    server = await start_server({"r": Auth})
    c = await js.client(endpoint(server))
    with pytest.raises(JSError) as info:
        await c.join_or_create("r")
    assert (info.value.code, info.value.message) == (seen_code(4215, profile), "onAuth failed")
    with pytest.raises(JSError) as info:
        await c.join_or_create("r", {"mode": "raise"})
    assert (info.value.code, info.value.message) == (4998, "x")
    seat = await reserve(endpoint(server), "joinOrCreate", "r")
    sock = await open_socket(endpoint(server), f"/p/{seat['room']['roomId']}", sessionId=seat["sessionId"])
    assert (await sock.next(protocol.ErrorMessage)).code == seen_code(4215, profile) and await sock.closed() == 4002
    engine = server.matchmaker.engines.get(seat["room"]["roomId"])
    assert engine is None or engine.listing.clients == 0


async def test_22_on_join_error_calls_on_leave(start_server, js, profile) -> None:
    left: list[Any] = []

    class Failing(Room[Any]):
        def on_join(self, client: Any, options: dict[str, Any], auth: Any = None) -> None:
            if options.get("code"):
                raise ServerError(4321, "custom")
            raise RuntimeError("join failed")

        def on_leave(self, client: Any, consented: bool) -> None:
            left.append(consented)

    server = await start_server({"r": Failing})
    c = await js.client(endpoint(server))
    with pytest.raises(JSError) as info:
        await c.join_or_create("r")
    # the exception's text stays in the server's log outside dev mode
    assert (info.value.code, info.value.message) == (seen_code(4216, profile), "internal error")
    with pytest.raises(JSError) as info:
        await c.join_or_create("r", {"code": True})
    assert (info.value.code, info.value.message) == (4321, "custom")
    assert left == [False, False]

    dev = await start_server({"r": Failing}, dev_mode=True)
    with pytest.raises(JSError) as info:
        await (await js.client(endpoint(dev))).join_or_create("r")
    assert (info.value.code, info.value.message) == (seen_code(4216, profile), "join failed")


async def test_23_auth_token_in_the_ws_query(start_server) -> None:
    tokens: list[Any] = []

    class Auth(Room[Any]):
        def on_auth(self, client: Any, options: dict[str, Any], request: Any) -> Any:
            tokens.append((request.token, request.query.get("_authToken")))
            return True

    server = await start_server({"r": Auth})
    base = endpoint(server)
    seat = await reserve(base, "joinOrCreate", "r", headers={"Authorization": "Bearer fromheader"})
    sock = await open_socket(base, f"/x/{seat['room']['roomId']}", sessionId=seat["sessionId"],
                             _authToken="fromquery")
    await sock.next(protocol.JoinRoom)
    seat = await reserve(base, "joinOrCreate", "r", headers={"Authorization": "Bearer fromheader"})
    sock2 = await open_socket(base, f"/x/{seat['room']['roomId']}", sessionId=seat["sessionId"])
    await sock2.next(protocol.JoinRoom)
    assert tokens == [("fromquery", "fromquery"), ("fromheader", None)]
    await sock.close()
    await sock2.close()


async def test_24_process_id_ignored_and_prefixes_accepted(start_server) -> None:
    server = await start_server({"state_room": StateRoom})
    base = endpoint(server)
    for path in ("/WRONGPROC/{rid}", "/some/prefix/{pid}/{rid}"):
        seat = await reserve(base, "joinOrCreate", "state_room")
        room = seat["room"]
        sock = await open_socket(base, path.format(pid=room["processId"], rid=room["roomId"]),
                                 sessionId=seat["sessionId"])
        await sock.next(protocol.JoinRoom)
        await sock.close()


async def test_25_oversized_frame_closes_1009(start_server) -> None:
    server = await start_server({"state_room": StateRoom})
    sock, _ = await join(endpoint(server), "state_room")
    await sock.next(protocol.RoomState)
    await sock.send(protocol.room_data("x", "y" * 5000))
    assert await sock.closed() == 1009


async def test_26_second_ack_is_ignored(start_server) -> None:
    server = await start_server({"state_room": StateRoom})
    sock, _ = await join(endpoint(server), "state_room")
    await sock.next(protocol.RoomState)
    await sock.send(protocol.join_ack())
    await asyncio.sleep(0.2)
    assert sum(isinstance(f, protocol.RoomState) for f in sock.frames) == 1 and sock.close_code is None
    await sock.close()


async def test_decoded_state_equals_the_server_state(start_server, js) -> None:
    rooms: list[StateRoom] = []

    class Busy(StateRoom):
        def on_create(self, options: dict[str, Any]) -> None:
            super().on_create(options)
            self.set_patch_rate(20)
            rooms.append(self)

    server = await start_server({"busy": Busy})
    c = await js.client(endpoint(server))
    watcher = await c.join_or_create("busy", {"name": "watcher"})
    room = rooms[0]
    rng = random.Random(7)
    for step in range(60):
        players = room.state.players
        choice = rng.random()
        if choice < 0.3 or not players:
            players[f"npc{step}"] = Player(name=f"npc{step}", x=rng.uniform(-100, 100))
        elif choice < 0.5:
            del players[rng.choice(list(players))]
        elif choice < 0.8:
            p = players[rng.choice(list(players))]
            p.x, p.y = rng.uniform(-1e3, 1e3), rng.uniform(-1e3, 1e3)
        else:
            room.state.log.append(f"event {step}")
            if len(room.state.log) > 5:
                room.state.log.pop(0)
        room.state.count = step
        await asyncio.sleep(0.005)
    late = await c.join_or_create("busy", {"name": "late"})
    await asyncio.sleep(0.2)
    expected = room.state.to_json()
    for p in expected["players"].values():
        p["x"], p["y"] = _f32(p["x"]), _f32(p["y"])
    for r in (watcher, late):
        assert (await r.info())["state"] == expected


def _f32(v: float) -> float:
    import struct
    return struct.unpack("<f", struct.pack("<f", v))[0]


async def test_join_sequence_on_the_server(start_server) -> None:
    order: list[str] = []

    class Ordered(Room[Any]):
        async def on_auth(self, client: Any, options: dict[str, Any], request: Any) -> Any:
            order.append("auth")
            return True

        async def on_join(self, client: Any, options: dict[str, Any], auth: Any = None) -> None:
            order.append(f"join {len(self.clients)}")

    server = await start_server({"r": Ordered})
    sock, _ = await join(endpoint(server), "r")
    await eventually(lambda: order == ["auth", "join 1"])
    await sock.close()
