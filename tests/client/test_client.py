"""The Python client against our server: every API call, errors, callbacks, reconnection."""
from __future__ import annotations

import asyncio
from typing import Any

import pytest

from pyseus.client import Client, MatchMakeError, RequestError, Room, RoomLeftError
from pyseus.protocol import PROFILES
from pyseus.protocol.generations import wire_error_code
from tests.client.rooms import Game, Player, Stateless, World

ROOMS = {"game": Game, "stateless": Stateless}


@pytest.fixture(params=PROFILES)
def profile(request: pytest.FixtureRequest) -> str:
    """Every test here runs against our server speaking each generation."""
    return str(request.param)


@pytest.fixture
def start_server(start_server: Any, profile: str) -> Any:
    async def start(rooms: Any, **options: Any) -> Any:
        return await start_server(rooms, protocol=profile, **options)
    return start


async def test_join_or_create_gives_identity_state_and_first_events(start_server) -> None:
    live = await start_server(ROOMS)
    room = await live.sdk.join_or_create("game", {"name": "Ann"})
    # registered right after the join: still gets the first state and the welcome
    states: list[dict[str, Any]] = []
    welcome: list[Any] = []
    room.on_state_change(lambda state: states.append(state.to_json()))
    room.on_message("welcome", welcome.append)
    await room.wait_for_next_patch()
    assert states and states[0]["players"][room.session_id]["name"] == "Ann"
    await asyncio.sleep(0.05)
    assert welcome == [{"sessionId": room.session_id, "auth": {"token": None}}]
    assert isinstance(room, Room) and room.name == "game" and room.connected
    assert len(room.room_id) == 9 and len(room.session_id) == 9
    assert room.reconnection_token.startswith(room.room_id + ":")
    assert room.serializer_id == "schema"
    assert type(room.state).__name__ == "Type0"            # built from the handshake
    [server_room] = live.server.matchmaker.rooms.values()
    assert room.state.to_json()["players"] == server_room.state.to_json()["players"]


async def test_create_join_and_join_by_id(start_server) -> None:
    live = await start_server(ROOMS)
    first = await live.sdk.create("game", {"mode": "a"})
    second = await live.sdk.create("game")
    assert first.room_id != second.room_id
    joined = await live.sdk.join("game")
    assert joined.room_id in (first.room_id, second.room_id)
    by_id = await live.sdk.join_by_id(second.room_id)
    assert by_id.room_id == second.room_id and by_id.session_id != second.session_id
    listings = await live.sdk.get_available_rooms("game")
    assert sorted(entry["roomId"] for entry in listings) == sorted([first.room_id, second.room_id])
    assert {entry["roomId"]: entry["metadata"] for entry in listings}[first.room_id] == {"mode": "a"}
    assert await live.sdk.get_available_rooms("stateless") == []


async def test_matchmaking_errors(start_server, profile) -> None:
    live = await start_server(ROOMS)
    cases = [
        (live.sdk.join("game"), 4211, "no rooms found with provided criteria"),
        (live.sdk.join_or_create("nope"), 4210, 'provided room name "nope" not defined'),
        (live.sdk.join_by_id("abcdefghi"), 4212, 'room "abcdefghi" not found'),
        (live.sdk.reconnect("abcdefghi:token"), 4212, 'room "abcdefghi" has been disposed.'),
    ]
    for call, code, message in cases:
        with pytest.raises(MatchMakeError) as e:
            await call
        assert (e.value.code, e.value.message) == (wire_error_code(code, profile), message)
    with pytest.raises(ValueError):
        await live.sdk.reconnect("no-colon")


async def test_a_refused_socket_join_raises_match_make_error(start_server, profile) -> None:
    live = await start_server(ROOMS)
    for options, code, message in [({"reject": True}, 4444, "rejected by on_auth"),
                                   ({"falsy": True}, 4215, "onAuth failed"),
                                   ({"fail_join": True}, 4216, "internal error")]:     # (not dev mode)
        with pytest.raises(MatchMakeError) as e:
            await live.sdk.create("game", options)
        assert (e.value.code, e.value.message) == (wire_error_code(code, profile), message)


async def test_messages_both_ways(start_server) -> None:
    live = await start_server(ROOMS)
    room = await live.sdk.join_or_create("game")
    payload = {"nested": {"list": [1, -2, 3.5, "four", None, True, {"deep": [[]]}]},
               "big": 2**40, "text": "héllo", "empty": {}}
    room.send("echo", payload)
    assert await room.wait_for_message("echo") == payload
    room.send(7, [1, "two"])
    assert await room.wait_for_message(7) == [1, "two"]
    room.send_bytes("bytes", b"\x00\x01\xff")
    assert await room.wait_for_message("bytes") == b"\x00\x01\xff"
    room.send("nopayload")
    assert await room.wait_for_message("nopayload") == {"was_none": True}
    room.send("nopayload", None)
    assert await room.wait_for_message("nopayload") == {"was_none": True}
    room.send("unhandled", {"a": 1})
    assert await room.wait_for_message("wildcard") == {"type": "unhandled", "message": {"a": 1}}


async def test_message_handlers_by_type_wildcard_and_removal(start_server) -> None:
    live = await start_server(ROOMS)
    room = await live.sdk.join_or_create("game")
    by_type: list[Any] = []
    anything: list[Any] = []
    remove = room.on_message("echo", by_type.append)
    room.on_message("*", lambda type, message: anything.append((type, message)))
    room.send("echo", 1)
    room.send(7, 2)                                 # 7 has no handler of its own: "*"
    await room.wait_for_message(7)
    remove()
    room.send("echo", 3)
    await room.wait_for_message("echo")
    assert by_type == [1]
    assert (7, 2) in anything and ("echo", 3) in anything and ("echo", 1) not in anything


async def test_async_callbacks_run(start_server) -> None:
    live = await start_server(ROOMS)
    room = await live.sdk.join_or_create("game")
    got: list[Any] = []

    async def on_echo(message: Any) -> None:
        await asyncio.sleep(0)
        got.append(message)

    async def on_state(state: Any) -> None:
        got.append("state")

    room.on_message("echo", on_echo)
    room.on_state_change(on_state)
    room.send("echo", "x")
    await room.wait_for_message("echo")
    await room.wait_for_next_patch()
    await asyncio.sleep(0.05)
    assert "x" in got and "state" in got


async def test_on_error_and_leave_codes(start_server) -> None:
    live = await start_server(ROOMS)
    room = await live.sdk.join_or_create("game")
    errors: list[tuple[int, str]] = []
    leaves: list[int] = []
    room.on_error(lambda code, message: errors.append((code, message)))
    room.on_leave(leaves.append)
    room.send("error")
    room.send("echo", "still here")
    assert await room.wait_for_message("echo") == "still here"
    assert errors == [(4999, "custom error")]
    room.send("kick", 4040)
    assert await room.wait_for_leave() == 4040
    assert leaves == [4040] and not room.connected and room.close_code == 4040
    with pytest.raises(RoomLeftError):
        await room.wait_for_next_patch()
    room.send("echo", "dropped")                    # not connected: dropped, no error
    other = await live.sdk.join_or_create("game")
    assert await other.leave() == 4000
    assert await other.leave() == 4000             # idempotent


async def test_consented_and_unconsented_leave_on_the_server(start_server) -> None:
    live = await start_server(ROOMS)
    a = await live.sdk.join_or_create("game")
    b = await live.sdk.join_or_create("game")
    [server_room] = live.server.matchmaker.rooms.values()
    assert await a.leave() == 4000
    await b.leave(consented=False)
    # the consented leaver is gone; the other one's seat is kept for a reconnection
    await asyncio.sleep(0.1)
    assert list(server_room.state.players.keys()) == [b.session_id]


async def test_reconnect_after_a_dropped_connection(start_server, profile) -> None:
    live = await start_server(ROOMS)
    room = await live.sdk.join_or_create("game", {"name": "Ann"})
    token = room.reconnection_token
    await room.leave(consented=False)
    again = await live.sdk.reconnect(token)
    assert (again.room_id, again.session_id) == (room.room_id, room.session_id)
    assert again.reconnection_token != token
    assert await again.wait_for_message("reconnected") == {"sessionId": room.session_id}
    await again.wait_for_next_patch()
    assert again.state.players[again.session_id].name == "Ann"
    with pytest.raises(MatchMakeError) as e:
        await live.sdk.reconnect(token)              # tokens rotate on every join
    assert e.value.code == wire_error_code(4214, profile)


async def test_state_cls_and_decoder_callbacks(start_server) -> None:
    live = await start_server(ROOMS)
    room = await live.sdk.join_or_create("game", {"name": "Ann"}, state_cls=World)
    await room.wait_for_next_patch()
    assert isinstance(room.state, World) and isinstance(room.state.players[room.session_id], Player)
    added: list[str] = []
    removed: list[str] = []
    moves: list[float] = []
    logs: list[Any] = []
    cb = room.callbacks
    cb.on_add(room.state, "players", lambda player, key: added.append(key))
    cb.on_remove(room.state, "players", lambda player, key: removed.append(key))
    cb.on_change(room.state.log, lambda item, index: logs.append(item))
    other = await live.sdk.join_or_create("game", {"name": "Bob"})
    await room.wait_for_next_patch()
    while other.session_id not in added:
        await room.wait_for_next_patch()
    assert added[0] == room.session_id                 # immediate for what is already there
    cb.listen(room.state.players[other.session_id], "x", lambda value, previous: moves.append(value))
    other.send("move", {"x": 5, "y": 6})
    other.send("log", "hello")
    while not moves or not logs:
        await room.wait_for_next_patch()
    assert moves[-1] == 5.0 and logs == ["hello"]
    await other.leave()
    while other.session_id not in removed:
        await room.wait_for_next_patch()


async def test_room_without_state(start_server) -> None:
    live = await start_server(ROOMS)
    room = await live.sdk.join_or_create("stateless")
    assert room.serializer_id == "none" and room.state is None
    with pytest.raises(RuntimeError):
        room.callbacks
    room.send("echo", {"ok": True})
    assert await room.wait_for_message("echo") == {"ok": True}
    with pytest.raises(TimeoutError):
        await room.wait_for_message("never", timeout=0.1)


async def test_close_leaves_every_room(start_server) -> None:
    live = await start_server(ROOMS)
    left: list[bool] = []

    class Recording(Game):
        async def on_leave(self, client: Any, consented: bool) -> None:
            left.append(consented)

    live.server.define("recording", Recording)
    async with Client(live.endpoint) as client:
        rooms = [await client.join_or_create("recording") for _ in range(3)]
    assert all(not r.connected for r in rooms)
    assert left == [True, True, True]


async def test_endpoint_forms() -> None:
    assert Client("http://h:1/pre/")._ws_base == "ws://h:1/pre"
    assert Client("https://h/x")._ws_base == "wss://h/x" and Client("https://h/x")._http_base == "https://h/x"
    assert Client("ws://h:2")._http_base == "http://h:2"
    assert Client("wss://h")._http_base == "https://h"
    assert Client("h:3")._http_base == "http://h:3"
    with pytest.raises(ValueError):
        Client("ftp://h")


async def test_requests_and_pings(start_server, profile) -> None:
    live = await start_server(ROOMS)
    room = await live.sdk.join_or_create("game")
    if profile in ("0.18", "auto"):
        assert await room.request("ask", {"q": [1, 2]}) == {"answer": {"q": [1, 2]}}
        with pytest.raises(RequestError) as e:
            await room.request("boom")
        assert (e.value.status, e.value.name, e.value.message, e.value.code) == (2, "ServerError", "boom", 4321)
        with pytest.raises(RequestError) as e:
            await room.request("refuse")
        assert (e.value.status, e.value.name, e.value.reason) == (1, "rejected", {"why": "no"})
        with pytest.raises(RequestError) as e:
            await room.request("nobody")
        assert (e.value.status, e.value.name) == (2, "no_handler")
    else:       # a 0.16 or 0.17 server does not answer requests
        with pytest.raises(TimeoutError):
            await room.request("ask", 1, timeout=0.3)
    if profile == "0.16":
        with pytest.raises(TimeoutError):
            await room.ping(timeout=0.3)
    else:
        assert 0 <= await room.ping() < 1000
    assert room.connected


async def test_automatic_reconnection_after_a_drop(start_server, profile) -> None:
    live = await start_server(ROOMS)
    room = await live.sdk.join_or_create("game", {"name": "Ann"})
    await room.wait_for_next_patch()
    room.reconnection.min_uptime = 0
    events: list[Any] = []
    room.on_drop(lambda code: events.append(("drop", code)))
    room.on_reconnect(lambda: events.append(("reconnect",)))
    token = room.reconnection_token
    room.send("drop-me")                    # the server closes us with 1001
    if profile == "0.16":                   # a 0.16 server takes a seat back only after HTTP reconnect
        assert await room.wait_for_leave() == 4002
        assert events == [("drop", 1001)]
        return
    assert await room.wait_for_message("reconnected") == {"sessionId": room.session_id}
    assert events == [("drop", 1001), ("reconnect",)]
    assert room.connected and room.reconnection_token != token
    room.send("move", {"x": 5, "y": 6})
    [server_room] = live.server.matchmaker.rooms.values()
    for _ in range(100):
        await room.wait_for_next_patch()
        if room.state.players[room.session_id].x == 5:
            break
    assert room.state.to_json()["players"] == server_room.state.to_json()["players"]
    assert room.state.players[room.session_id].name == "Ann"


@pytest.mark.parametrize("profile", ["0.17", "0.18", "auto"])     # (0.16: see the test above)
async def test_messages_sent_while_offline_are_delivered_after_the_reconnection(start_server, profile) -> None:
    live = await start_server(ROOMS)
    room = await live.sdk.join_or_create("game", {"name": "Ann"})
    room.reconnection.min_uptime = 0
    room.reconnection.min_delay = room.reconnection.max_delay = 0.3     # offline for a while
    dropped = asyncio.Event()
    room.on_drop(lambda code: dropped.set())
    room.send("drop-me")
    await asyncio.wait_for(dropped.wait(), 5)
    assert not room.connected
    room.send("log", "written offline")
    await room.wait_for_message("reconnected")
    for _ in range(100):
        await room.wait_for_next_patch()
        if list(room.state.log) == ["written offline"]:
            break
    assert list(room.state.log) == ["written offline"]


@pytest.mark.parametrize("profile", ["0.17", "0.18", "auto"])
async def test_leaving_while_reconnecting_stops_it(start_server, profile) -> None:
    live = await start_server(ROOMS)
    room = await live.sdk.join_or_create("game")
    room.reconnection.min_uptime = 0
    room.reconnection.min_delay = room.reconnection.max_delay = 0.5
    dropped = asyncio.Event()
    room.on_drop(lambda code: dropped.set())
    room.send("drop-me")
    await asyncio.wait_for(dropped.wait(), 5)
    assert await room.leave() == 1000
    await asyncio.sleep(0.8)                # past the next try: nothing reconnected
    [server_room] = live.server.matchmaker.rooms.values()
    assert len(server_room.clients) == 0 and not room.connected
