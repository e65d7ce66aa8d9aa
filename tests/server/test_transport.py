"""The aiohttp transport: frames of every length class, a client that stops reading,
and room sockets that aiohttp lets go of."""
from __future__ import annotations

import asyncio
import base64
import gc
import os
import struct
from typing import Any

import pytest
from aiohttp import web

from pyseus import protocol

from pyseus.server import Limits, Room
from pyseus.protocol import websocket
from tests.server.conftest import endpoint, eventually
from tests.server.raw import claim_without_reading, client_frame, join, reserve


class Blaster(Room[Any]):
    """Sends raw bytes of the requested size; records how clients leave."""

    left: list[bool] = []

    def on_create(self, options: dict[str, Any]) -> None:
        self.on_message("size", lambda c, n: c.send_bytes("blob", bytes(range(256)) * (n // 256) + b"x" * (n % 256)))

    def on_leave(self, client: Any, consented: bool) -> None:
        Blaster.left.append(consented)


@pytest.mark.parametrize("size", [0, 1, 125, 126, 65535, 65536, 300_000])
async def test_frames_of_every_length_class(start_server, size: int) -> None:
    server = await start_server({"b": Blaster}, max_payload=4096)
    sock, _ = await join(endpoint(server), "b")
    await sock.send(protocol.room_data("size", size))
    frame = await sock.next(protocol.RoomDataBytes)
    assert frame.type == "blob" and len(frame.data) == size
    assert frame.data == bytes(range(256)) * (size // 256) + b"x" * (size % 256)
    await sock.close()


# (below and above the transport's default high-water mark of 64 KiB, past which
# it tells the connection to count the unsent bytes)
@pytest.mark.parametrize("limit", [16 << 10, 1 << 20])
async def test_a_client_that_stops_reading_is_dropped(start_server, caplog, limit: int) -> None:
    Blaster.left = []
    server = await start_server({"b": Blaster}, limits=Limits(send_buffer_bytes=limit))
    seat = await reserve(endpoint(server), "joinOrCreate", "b")
    reader, writer = await claim_without_reading(server.port, seat)
    # (the unsent bytes are counted once the transport pauses writing: at the
    # limit, when that is below the transport's own high-water mark)
    [conn] = server.transport._sockets
    assert conn._transport.get_write_buffer_limits()[1] <= limit
    # ask for 60 KB blobs again and again, and never read them
    for _ in range(200):
        writer.write(client_frame(protocol.room_data("size", 60_000)))
        await writer.drain()
        await asyncio.sleep(0.005)
        if Blaster.left:
            break
    await eventually(lambda: Blaster.left == [False], timeout=10)
    assert "bytes are waiting to be sent" in caplog.text     # dropped for its backlog, not by chance
    room = next(iter(server.matchmaker.rooms.values()), None)
    assert room is None or len(room.clients) == 0
    writer.close()
    await asyncio.gather(writer.wait_closed(), return_exceptions=True)


async def test_aiohttp_lets_go_of_room_sockets(start_server) -> None:
    # Once upgraded, a room socket is the transport's alone: aiohttp forgets the
    # connection and frees its request, and the socket works and is counted until it ends.
    server = await start_server({"b": Blaster})
    socks = [(await join(endpoint(server), "b"))[0] for _ in range(3)]
    aiohttp_server = server.transport._runner.server
    await eventually(lambda: not aiohttp_server.connections)   # (the matchmaking requests' ended too)
    gc.collect()
    upgrades = [o for o in gc.get_objects() if isinstance(o, web.BaseRequest)
                and o.headers.get("Upgrade", "").lower() == "websocket"]
    assert upgrades == []
    assert server.transport.connections == 3
    for sock in socks:
        await sock.send(protocol.room_data("size", 300))
        assert len((await sock.next(protocol.RoomDataBytes)).data) == 300
    Blaster.left = []
    for sock in socks:
        await sock.close()
    await eventually(lambda: server.transport.connections == 0 and len(Blaster.left) == 3)
    assert not server.transport._sockets


async def test_frames_sent_with_the_upgrade_request_are_read(start_server) -> None:
    # A client may write its first frames in the same packet as its upgrade
    # request: they reach the socket, after the join.
    server = await start_server({"b": Blaster})
    seat = await reserve(endpoint(server), "joinOrCreate", "b")
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    path = f"/{seat['room']['processId']}/{seat['room']['roomId']}?sessionId={seat['sessionId']}"
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write((f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode()
                 + client_frame(protocol.join_ack()) + client_frame(protocol.room_data("size", 77)))
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    assert head.startswith(b"HTTP/1.1 101")
    parser = websocket.FrameParser(1 << 20, masked=False)
    kinds: list[type] = []
    while not any(k is protocol.RoomDataBytes for k in kinds):
        data = await asyncio.wait_for(reader.read(65536), 5)
        assert data, f"the server closed the socket after {kinds}"
        for op, payload in parser.feed(data):
            frame = protocol.parse_server_frame(payload)
            kinds.append(type(frame))
            if isinstance(frame, protocol.RoomDataBytes):
                assert frame.type == "blob" and len(frame.data) == 77
    assert kinds[0] is protocol.JoinRoom
    writer.close()
    await asyncio.gather(writer.wait_closed(), return_exceptions=True)


def test_frame_headers() -> None:
    # the server's binary frames (written by pyseus.protocol.websocket.frame), by payload size
    def header(n: int) -> bytes:
        return websocket.frame(websocket.BINARY, b"\0" * n)[:-n or None]
    assert header(0) == b"\x82\x00" and header(125) == b"\x82\x7d"
    assert header(126) == b"\x82\x7e\x00\x7e" and header(65535) == b"\x82\x7e\xff\xff"
    assert header(65536) == b"\x82\x7f" + struct.pack("!Q", 65536)