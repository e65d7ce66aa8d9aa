"""The aiohttp transport: frames of every length class, and a client that stops reading."""
from __future__ import annotations

import asyncio
import base64
import os
import struct
from typing import Any

import pytest

from pyseus import protocol

from pyseus.server import Room
from pyseus.server import transport_aiohttp as transport_module
from tests.server.conftest import endpoint, eventually
from tests.server.raw import join, reserve


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


def _client_frame(payload: bytes) -> bytes:
    # a masked binary frame, as a client must send it (RFC 6455, 5.3)
    mask = os.urandom(4)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    assert len(payload) < 126
    return bytes((0x82, 0x80 | len(payload))) + mask + masked


async def test_a_client_that_stops_reading_is_dropped(start_server, monkeypatch, caplog) -> None:
    Blaster.left = []
    monkeypatch.setattr(transport_module, "_MAX_BUFFERED_BYTES", 1 << 20)
    server = await start_server({"b": Blaster})
    seat = await reserve(endpoint(server), "joinOrCreate", "b")
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    key = base64.b64encode(os.urandom(16)).decode()
    path = f"/{seat['room']['processId']}/{seat['room']['roomId']}?sessionId={seat['sessionId']}"
    writer.write((f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
    assert (await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)).startswith(b"HTTP/1.1 101")
    writer.write(_client_frame(protocol.join_ack()))
    # ask for 60 KB blobs again and again, and never read them
    for _ in range(200):
        writer.write(_client_frame(protocol.room_data("size", 60_000)))
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


def test_frame_headers() -> None:
    header = transport_module._frame_header
    assert header(0) == b"\x82\x00" and header(125) == b"\x82\x7d"
    assert header(126) == b"\x82\x7e\x00\x7e" and header(65535) == b"\x82\x7e\xff\xff"
    assert header(65536) == b"\x82\x7f" + struct.pack("!Q", 65536)
