"""What the client puts on the wire, seen by a recording server on 127.0.0.1."""
from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from aiohttp import WSMsgType, web

from pyseus.client import Client, MatchMakeError
from pyseus.schema import Encoder, Reflection
from pyseus import protocol
from tests.client.rooms import Player, World


# [{by: 2}, {by: 3}] as msgpackr packs it with records: a definition, then a reuse of slot 0x40
RECORDS = bytes.fromhex("92 d4 72 40 91 a2 62 79 02 40 03")


class Recorder:
    """Answers matchmaking with a seat in room r1 and, on the socket, sends
    JOIN_ROOM, the full state and two messages in one burst (without waiting
    for the ack), then records what the client sends."""

    def __init__(self, refuse: bool = False) -> None:
        self.refuse = refuse
        self.requests: list[dict[str, Any]] = []
        self.sockets: list[dict[str, Any]] = []
        self.frames: list[bytes] = []
        self.close_code: int | None = None
        self.done = asyncio.Event()
        app = web.Application()
        app.router.add_post("/pre/matchmake/{method}/{target}", self.matchmake)
        app.router.add_get("/pre/{process}/{room}", self.socket)
        self.runner = web.AppRunner(app)

    async def start(self) -> str:
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return f"http://127.0.0.1:{port}/pre?region=eu"

    async def matchmake(self, request: web.Request) -> web.Response:
        self.requests.append({"path": request.path, "headers": dict(request.headers),
                              "body": await request.text()})
        return web.json_response({"room": {"name": "game", "roomId": "r1", "processId": "p1"}, "sessionId": "s1"})

    async def socket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self.sockets.append({"path": request.path, "raw_path": request.raw_path,
                             "headers": dict(request.headers)})
        if self.refuse:
            await ws.send_bytes(protocol.error(4321, "go away"))
            await ws.close(code=4002)
            return ws
        state = World()
        state.players["s1"] = Player(name="Ann")
        await ws.send_bytes(protocol.join_room("tok", "schema", Reflection.encode(state)))
        await ws.send_bytes(protocol.room_state(Encoder(state).encode_all()))
        await ws.send_bytes(protocol.room_data("welcome", {"hi": 1}))
        # a payload packed by msgpackr with records, as a Node server may send it
        await ws.send_bytes(bytes([protocol.Protocol.ROOM_DATA]) + protocol.encode_type("records") + RECORDS)
        async for msg in ws:
            if msg.type == WSMsgType.BINARY:
                self.frames.append(msg.data)
                if msg.data == protocol.leave_room():
                    await ws.close(code=4000)
        self.close_code = ws.close_code
        self.done.set()
        return ws

    async def stop(self) -> None:
        await self.runner.cleanup()


@pytest.fixture
async def recorder():
    rec = Recorder()
    yield rec
    await rec.stop()


async def test_requests_headers_tokens_and_frames(recorder: Recorder) -> None:
    endpoint = await recorder.start()
    async with Client(endpoint, headers={"X-Game": "demo"}) as client:
        client.auth_token = "se cret"
        room = await client.join_or_create("game", {"name": "Ann", "n": [1, 2]})
        states: list[Any] = []
        messages: list[Any] = []
        room.on_state_change(lambda state: states.append(state.to_json()))
        room.on_message("welcome", messages.append)
        room.on_message("records", messages.append)
        room.send("move", {"x": 1})
        room.send("ping")
        room.send_bytes(3, b"\x01\x02")
        assert await room.leave() == 4000
    await asyncio.wait_for(recorder.done.wait(), 5)

    [req] = recorder.requests
    assert req["path"] == "/pre/matchmake/joinOrCreate/game"
    assert json.loads(req["body"]) == {"name": "Ann", "n": [1, 2]}
    assert req["headers"]["Authorization"] == "Bearer se cret"
    assert req["headers"]["Content-Type"] == "application/json"
    assert req["headers"]["X-Game"] == "demo"
    [sock] = recorder.sockets
    assert sock["path"] == "/pre/p1/r1"
    assert sock["raw_path"] == "/pre/p1/r1?region=eu&sessionId=s1&_authToken=se%20cret"
    assert sock["headers"]["X-Game"] == "demo"
    assert "permessage-deflate" not in sock["headers"].get("Sec-WebSocket-Extensions", "")
    # what colyseus.js sends: the ack first, then the messages in order, then LEAVE_ROOM
    assert recorder.frames == [protocol.join_ack(), protocol.room_data("move", {"x": 1}),
                               protocol.room_data("ping"), protocol.room_data_bytes(3, b"\x01\x02"),
                               protocol.leave_room()]
    # the burst arrived before the handlers were registered, and they still got it
    assert states == [{"players": {"s1": {"name": "Ann", "x": 0.0, "y": 0.0, "hp": 100}}, "log": [], "tick": 0}]
    assert messages == [{"hi": 1}, [{"by": 2}, {"by": 3}]]
    assert room.reconnection_token == "r1:tok"


async def test_an_error_before_join_room_raises() -> None:
    rec = Recorder(refuse=True)
    endpoint = await rec.start()
    try:
        async with Client(endpoint) as client:
            with pytest.raises(MatchMakeError) as e:
                await client.join_or_create("game")
            assert (e.value.code, e.value.message) == (4321, "go away")
    finally:
        await rec.stop()


async def test_unreachable_server_is_a_connection_error() -> None:
    async with Client("http://127.0.0.1:9") as client:
        with pytest.raises(ConnectionError):
            await client.join_or_create("game")
