"""Room sockets over raw TCP: the handshake, fragments, pipelined bytes, and frames a client must not send."""
from __future__ import annotations

import asyncio
import base64
import os
import struct
from typing import Any

from pyseus import protocol
from pyseus.protocol import websocket
from pyseus.server import Server
from tests.server.hostile.conftest import endpoint, eventually
from tests.server.raw import reserve


async def _upgrade(port: int, path: str, *, extra: bytes = b"", version: str = "13",
                   key: str | None = None) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, bytes]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    key = base64.b64encode(os.urandom(16)).decode() if key is None else key
    writer.write((f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: {version}\r\n\r\n").encode() + extra)
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    return reader, writer, head


async def _seat_path(server: Server) -> tuple[str, dict[str, Any]]:
    seat = await reserve(endpoint(server), "joinOrCreate", "game")
    return f"/{seat['room']['processId']}/{seat['room']['roomId']}?sessionId={seat['sessionId']}", seat


async def _server_frames(reader: asyncio.StreamReader, until: int, timeout: float = 5.0) -> list[tuple[int, bytes]]:
    """Server frames up to (and with) the first of opcode ``until``."""
    parser = websocket.FrameParser(1 << 20, masked=False)
    out: list[tuple[int, bytes]] = []
    async with asyncio.timeout(timeout):
        while not any(op == until for op, _ in out):
            data = await reader.read(65536)
            if not data:
                break
            out += parser.feed(data)
    return out


def _masked(op: int, payload: bytes, *, fin: bool = True, rsv: int = 0) -> bytes:
    mask = os.urandom(4)
    assert len(payload) < 126
    return (bytes(((0x80 if fin else 0) | rsv | op, 0x80 | len(payload))) + mask
            + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))


async def test_the_handshake_answer_and_its_refusals(arena) -> None:
    server = await arena()
    path, _ = await _seat_path(server)
    key = base64.b64encode(os.urandom(16)).decode()
    _, writer, head = await _upgrade(server.port, path, key=key)
    assert head.startswith(b"HTTP/1.1 101")
    assert f"Sec-WebSocket-Accept: {websocket.accept_key(key)}".encode() in head
    writer.close()
    _, writer, head = await _upgrade(server.port, path, version="8")
    assert head.startswith(b"HTTP/1.1 426") and b"Sec-WebSocket-Version: 13" in head
    writer.close()
    _, writer, head = await _upgrade(server.port, path, key="not-a-key")
    assert head.startswith(b"HTTP/1.1 400")
    writer.close()


async def test_bytes_sent_with_the_request_are_not_lost(arena) -> None:
    server = await arena()
    # (a client must wait for the 101, but bytes that come early are still the socket's)
    path, seat = await _seat_path(server)
    reader, writer, head = await _upgrade(server.port, path, extra=_masked(websocket.BINARY, protocol.join_ack()))
    assert head.startswith(b"HTTP/1.1 101")
    room = server.matchmaker.engines[seat["room"]["roomId"]].room
    await eventually(lambda: room.clients.get(seat["sessionId"]) is not None
                           and room.clients.get(seat["sessionId"]).state.name == "JOINED")
    writer.close()


def _is_chat(frame: Any, text: str) -> bool:
    return isinstance(frame, protocol.RoomData) and frame.type == "chat" and frame.message() == text


async def test_a_message_in_fragments_with_a_ping_between(arena) -> None:
    server = await arena()
    path, seat = await _seat_path(server)
    reader, writer, _ = await _upgrade(server.port, path)
    ack = protocol.join_ack()
    message = protocol.room_data("chat", "hello")
    writer.write(_masked(websocket.BINARY, ack)
                 + _masked(websocket.BINARY, message[:3], fin=False)
                 + _masked(websocket.PING, b"are you there")
                 + _masked(websocket.CONTINUATION, message[3:6], fin=False)
                 + _masked(websocket.CONTINUATION, message[6:]))
    frames = []
    parser = websocket.FrameParser(1 << 20, masked=False)
    async with asyncio.timeout(5):
        while not any(op == websocket.BINARY and _is_chat(protocol.parse_server_frame(p), "hello") for op, p in frames):
            frames += parser.feed(await reader.read(65536))
    assert (websocket.PONG, b"are you there") in frames
    writer.close()


async def test_frames_a_client_must_not_send_close_the_socket_and_the_room_sees_a_leave(arena) -> None:
    server = await arena()
    cases = [
        (bytes((0x82, 0x03)) + b"abc", 1002),                          # not masked
        (_masked(websocket.BINARY, b"abc", rsv=0x40), 1002),           # an extension nobody agreed
        (_masked(0x3, b"abc"), 1002),                                  # unknown opcode
        (_masked(websocket.TEXT, b"\xff"), 1007),                      # text that is not UTF-8
        (bytes((0x82, 0xFF)) + (1 << 40).to_bytes(8, "big"), 1009),    # a terabyte announced
    ]
    for bad, code in cases:
        path, seat = await _seat_path(server)
        reader, writer, _ = await _upgrade(server.port, path)
        writer.write(_masked(websocket.BINARY, protocol.join_ack()))
        room = server.matchmaker.engines[seat["room"]["roomId"]].room
        await eventually(lambda: room.clients.get(seat["sessionId"]) is not None)
        writer.write(bad)
        frames = await _server_frames(reader, websocket.CLOSE)
        closes = [payload for op, payload in frames if op == websocket.CLOSE]
        assert closes and struct.unpack("!H", closes[0][:2])[0] == code, (bad, closes)
        assert await asyncio.wait_for(reader.read(), 5) == b""        # and the connection ends
        await eventually(lambda: room.clients.get(seat["sessionId"]) is None)
        writer.close()


async def test_a_client_close_is_answered_with_its_code(arena) -> None:
    server = await arena()
    for payload, answer in ((struct.pack("!H", 4000) + b"bye", struct.pack("!H", 4000) + b"bye"), (b"", b"")):
        path, _ = await _seat_path(server)
        reader, writer, _ = await _upgrade(server.port, path)
        writer.write(_masked(websocket.BINARY, protocol.join_ack()) + _masked(websocket.CLOSE, payload))
        frames = await _server_frames(reader, websocket.CLOSE)
        assert [p for op, p in frames if op == websocket.CLOSE] == [answer]
        assert await asyncio.wait_for(reader.read(), 5) == b""
        writer.close()
