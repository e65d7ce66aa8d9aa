"""One endpoint for colyseus.js 0.16.22 and @colyseus/sdk 0.17.43 and 0.18.4 (protocol "auto"),
and each exact profile against its own client (shared/spec/generations.md)."""
from __future__ import annotations

import asyncio
from typing import Any

import pytest

from pyseus import protocol
from pyseus.protocol.generations import http_status, wire_error_code
from pyseus.schema import ArraySchema, MapSchema, Schema, float32, string, uint32
from pyseus.server import Client, RequestRejected, Room, ServerError
from tests.server.conftest import JSError, endpoint, eventually
from tests.server.raw import join, open_socket

GENERATIONS = ["0.16", "0.17", "0.18"]


@pytest.fixture
def profile() -> str:
    """(most tests here choose their protocol; the raw-wire ones parametrize it)"""
    return "auto"


class Item(Schema):
    label: string = ""
    weight: float32 = 0.0


class Player(Schema):
    name: string = ""
    x: float32 = 0.0
    bag: ArraySchema[Item]


class State(Schema):
    players: MapSchema[Player]
    scores: ArraySchema[uint32]
    words: MapSchema[string]
    tick: uint32 = 0


class Arena(Room[State]):
    def on_create(self, options: dict[str, Any]) -> None:
        self.set_state(State())
        self.on_message("move", self.move)
        self.on_message("echo", lambda client, message: client.send("echo", message))
        self.on_message("score", lambda client, n: self.state.scores.append(n))
        self.on_message("ask", lambda client, message: {"answer": message})
        self.on_message("slow", self.slow)
        self.on_message("boom", self.boom)
        self.on_message("refuse", self.refuse)
        self.on_message("error", lambda client, message: client.error(4999, "custom error"))

    def move(self, client: Client, message: Any) -> None:
        player = self.state.players[client.session_id]
        player.x = message["x"]
        player.bag.append(Item(label=message["item"], weight=1.5))
        self.state.words[client.session_id] = message["item"]
        self.state.tick += 1

    async def slow(self, client: Client, message: Any) -> Any:
        await asyncio.sleep(0.01)
        return [message, message]

    def boom(self, client: Client, message: Any) -> None:
        raise ServerError(4321, "boom")

    def refuse(self, client: Client, message: Any) -> None:
        raise RequestRejected({"why": "no"})

    def on_auth(self, client: Client, options: dict[str, Any], request: Any) -> Any:
        if options.get("reject"):
            raise ServerError(4444, "rejected by on_auth")
        return options.get("falsy") is None

    def on_join(self, client: Client, options: dict[str, Any], auth: Any = None) -> None:
        self.state.players[client.session_id] = Player(name=options.get("name", ""))

    def on_drop(self, client: Client, code: int) -> None:
        self.allow_reconnection(client, 10)

    def on_reconnect(self, client: Client) -> None:
        client.send("reconnected", {"sessionId": client.session_id})

    def on_leave(self, client: Client, consented: bool) -> None:
        self.state.players.pop(client.session_id, None)


async def test_every_generation_joins_plays_and_converges_in_one_room(start_server, sdk) -> None:
    server = await start_server({"arena": Arena}, protocol="auto")
    base = endpoint(server)
    clients = {g: await (await sdk(g)).client(base) for g in GENERATIONS}
    rooms = {"0.16": await clients["0.16"].create("arena", {"name": "sixteen"})}
    room_id = (await rooms["0.16"].info())["roomId"]
    rooms["0.17"] = await clients["0.17"].join_or_create("arena", {"name": "seventeen"})
    rooms["0.18"] = await clients["0.18"].join_by_id(room_id, {"name": "eighteen"})
    infos = {g: await r.info() for g, r in rooms.items()}
    assert {info["roomId"] for info in infos.values()} == {room_id}
    for n, (g, room) in enumerate(rooms.items()):
        await room.send("move", {"x": n + 0.5, "item": f"item-{g}"})
        await room.send("score", n * 10)
    server_room = server.matchmaker.rooms[room_id]

    def converged(state: Any) -> bool:
        return state == server_room.state.to_json() and state["tick"] == 3 and len(state["scores"]) == 3
    for room in rooms.values():
        event = await room.wait(kind="state", timeout=5)
        for _ in range(50):
            if converged(event["state"]):
                break
            event = (await room.events("state"))[-1]
            await asyncio.sleep(0.05)
        assert converged(event["state"]), event["state"]
    players = server_room.state.to_json()["players"]
    assert {p["name"] for p in players.values()} == {"sixteen", "seventeen", "eighteen"}
    assert sorted(item["label"] for p in players.values() for item in p["bag"]) == \
        ["item-0.16", "item-0.17", "item-0.18"]
    for g, room in rooms.items():
        await room.send("echo", {"from": g, "n": [1, 2.5, None]})
        assert (await room.wait(kind="message", type="echo"))["message"] == {"from": g, "n": [1, 2.5, None]}
        await room.send("error")
        assert (await room.wait(kind="error"))["code"] == 4999


@pytest.mark.parametrize("generation", GENERATIONS)
async def test_errors_reach_each_generation_with_their_codes(start_server, sdk, generation: str) -> None:
    server = await start_server({"arena": Arena}, protocol="auto")
    client = await (await sdk(generation)).client(endpoint(server))
    with pytest.raises(JSError) as info:
        await client.join("arena")              # no room: HTTP 521 in "auto"
    assert (info.value.code, info.value.message) == (521, "no rooms found with provided criteria")
    assert info.value.name == ("ServerError" if generation == "0.16" else "MatchMakeError")
    with pytest.raises(JSError) as info:
        await client.join_or_create("arena", {"reject": True})       # on_auth's own code, on the socket
    assert (info.value.code, info.value.message) == (4444, "rejected by on_auth")
    with pytest.raises(JSError) as info:
        await client.join_or_create("arena", {"falsy": True})
    assert (info.value.code, info.value.message) == (525, "onAuth failed")


@pytest.mark.parametrize("generation", ["0.17", "0.18"])
async def test_ping_latency_and_automatic_reconnection(start_server, sdk, generation: str) -> None:
    server = await start_server({"arena": Arena}, protocol="auto")
    client = await (await sdk(generation)).client(endpoint(server))
    room = await client.join_or_create("arena", {"name": "ann"})
    info = await room.info()
    assert 0 <= await room.ping() < 1000
    assert 0 <= await client.latency() < 1000
    await room.terminate()                      # the network goes away: the SDK reconnects by itself
    await room.wait(kind="drop", timeout=5)
    await room.wait(kind="reconnect", timeout=5)
    again = await room.info()
    assert (again["roomId"], again["sessionId"]) == (info["roomId"], info["sessionId"])
    assert again["reconnectionToken"] != info["reconnectionToken"]
    assert (await room.wait(kind="message", type="reconnected"))["message"] == {"sessionId": info["sessionId"]}
    await room.send("move", {"x": 7, "item": "after"})
    server_room = server.matchmaker.rooms[info["roomId"]]
    await eventually(lambda: server_room.state.players[info["sessionId"]].x == 7)
    assert len(server_room.clients) == 1


async def test_requests_of_0_18(start_server, sdk) -> None:
    server = await start_server({"arena": Arena}, protocol="auto")
    room = await (await (await sdk("0.18")).client(endpoint(server))).join_or_create("arena")
    assert await room.request("ask", {"q": 1}) == {"ok": True, "value": {"answer": {"q": 1}}}
    assert await room.request("slow", "x") == {"ok": True, "value": ["x", "x"]}
    boom = await room.request("boom")
    assert boom["ok"] is False and boom["error"] == {"name": "ServerError", "code": 4321, "message": "boom"}
    refused = await room.request("refuse")
    assert refused["ok"] is False and refused["error"]["name"] == "rejected"
    assert refused["error"]["reason"] == {"why": "no"}
    unknown = await room.request("nobody-handles-this", timeout_ms=3000)
    assert unknown["ok"] is False and unknown["error"]["name"] == "no_handler"
    assert 'has no onMessage("nobody-handles-this") handler' in unknown["error"]["message"]
    assert (await room.info())["roomId"] in server.matchmaker.rooms          # still connected


@pytest.mark.parametrize("profile_", ["0.17", "0.18"])
async def test_each_exact_profile_with_its_own_client(start_server, sdk, profile_: str) -> None:
    server = await start_server({"arena": Arena}, protocol=profile_)
    client = await (await sdk(profile_)).client(endpoint(server))
    room = await client.join_or_create("arena", {"name": "solo"})
    await room.send("move", {"x": 2, "item": "one"})
    event = await room.wait(kind="state")
    for _ in range(50):
        if event["state"]["players"] and next(iter(event["state"]["players"].values()))["x"] == 2:
            break
        event = (await room.events("state"))[-1]
        await asyncio.sleep(0.05)
    assert next(iter(event["state"]["players"].values())) == {"name": "solo", "x": 2, "bag": [
        {"label": "one", "weight": 1.5}]}
    with pytest.raises(JSError) as info:
        await client.join("nothing-here")
    assert info.value.code == http_status(4210, profile_) == 520
    if profile_ == "0.18":
        assert await room.request("ask", 1) == {"ok": True, "value": {"answer": 1}}
    await server.shutdown()
    assert (await room.wait(kind="leave"))["code"] == protocol.CloseCode.SERVER_SHUTDOWN


async def test_shutdown_closes_every_generation_with_4001(start_server, sdk) -> None:
    # (the server cannot tell a 0.16 client from a 0.17 one: "auto" uses the 0.17 codes)
    server = await start_server({"arena": Arena}, protocol="auto")
    base = endpoint(server)
    rooms = {g: await (await (await sdk(g)).client(base)).join_or_create("arena") for g in GENERATIONS}
    await server.shutdown()
    assert {g: (await r.wait(kind="leave"))["code"] for g, r in rooms.items()} == dict.fromkeys(GENERATIONS, 4001)


@pytest.mark.parametrize("profile", ["0.16", "auto"])
async def test_the_latency_socket_and_pings_on_the_raw_wire(start_server, profile) -> None:
    server = await start_server({"arena": Arena})
    probe = await open_socket(endpoint(server), "/")
    if profile == "0.16":                       # a 0.16 server knows no such socket
        assert (await probe.next(protocol.ErrorMessage)).code == 0 and await probe.closed() == 4002
    else:
        await probe.send(protocol.ping())
        assert isinstance(await probe.next(protocol.Ping), protocol.Ping)
        assert await probe.closed(timeout=3) == 1000
    sock, _ = await join(endpoint(server), "arena")
    await sock.send(protocol.ping())
    await sock.send(protocol.room_data("echo", "after the ping"))
    echo = await sock.next(protocol.RoomData)
    assert echo.message() == "after the ping"
    assert any(isinstance(f, protocol.Ping) for f in sock.frames) == (profile != "0.16")
    await sock.send(bytes([protocol.Protocol.ROOM_INPUT_RELIABLE, 1, 2]))       # input codes: ignored
    await sock.send(protocol.room_data("echo", "still here"))
    assert (await sock.next(protocol.RoomData, start=len(sock.frames))).message() == "still here"
    await sock.close()


@pytest.mark.parametrize("profile", ["0.16", "auto"])
async def test_reconnection_by_websocket_alone_and_over_a_stale_socket(start_server, profile) -> None:
    server = await start_server({"arena": Arena})
    base = endpoint(server)
    sock, seat = await join(base, "arena")
    room_id = seat["room"]["roomId"]
    token = (await sock.next(protocol.JoinRoom)).reconnection_token
    query = {"sessionId": seat["sessionId"], "reconnectionToken": token, "skipHandshake": "1"}
    # the old socket is still open: the server drops it and gives the seat to the new one
    again = await open_socket(base, f"/p/{room_id}", **query)
    if profile == "0.16":                       # 0.16 needs the HTTP reconnect step first
        error = await again.next(protocol.ErrorMessage)
        assert (error.code, await again.closed()) == (0, 4002)
        await sock.close()
        return
    joined = await again.next(protocol.JoinRoom)
    assert joined.handshake == b"" and joined.reconnection_token != token       # skipHandshake
    assert await sock.closed() == 1001
    await again.send(protocol.join_ack())
    assert (await again.next(protocol.RoomData)).type == "reconnected"
    assert isinstance(await again.next(protocol.RoomState), protocol.RoomState)
    # a token that waits for nothing: ERROR 524, close 4003
    dead = await open_socket(base, f"/p/{room_id}", sessionId=seat["sessionId"], reconnectionToken="nothing")
    error = await dead.next(protocol.ErrorMessage)
    assert (error.code, error.message) == (wire_error_code(0, profile), "seat reservation expired.")
    assert await dead.closed() == 4003
    await again.close()
