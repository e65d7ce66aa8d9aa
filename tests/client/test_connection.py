"""The client's WebSocket against a hand-written server on 127.0.0.1: handshake, delivery order, pings, closes."""
from __future__ import annotations

import asyncio
import re
import struct
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from pyseus.client import MatchMakeError
from pyseus.client.connection import WebSocket
from pyseus.protocol import websocket

Script = Callable[[asyncio.StreamReader, asyncio.StreamWriter, str], Awaitable[None]]


@pytest.fixture
async def serve() -> AsyncIterator[Callable[[Script], Awaitable[str]]]:
    servers: list[asyncio.Server] = []

    async def start(script: Script) -> str:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            head = (await reader.readuntil(b"\r\n\r\n")).decode()
            key = re.search(r"Sec-WebSocket-Key: (\S+)", head)
            assert key is not None and "Sec-WebSocket-Version: 13" in head and head.startswith("GET /room?x=1 ")
            try:
                await script(reader, writer, websocket.accept_key(key.group(1)))
            finally:
                writer.close()
        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        servers.append(server)
        return f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}/room?x=1"

    yield start
    for server in servers:
        server.close()
        await server.wait_closed()


def _answer(accept: str) -> bytes:
    return (f"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Accept: {accept}\r\n\r\n").encode()


class Recorder:
    def __init__(self, hold_after: bytes | None = None) -> None:
        self.messages: list[bytes] = []
        self.closed: list[tuple[int, str]] = []
        self.hold_after = hold_after

    def on_message(self, data: bytes) -> bool:
        self.messages.append(data)
        return data == self.hold_after

    def on_closed(self, code: int, reason: str) -> None:
        self.closed.append((code, reason))

    def socket(self) -> WebSocket:
        return WebSocket(self.on_message, self.on_closed, 4096)


async def _client_frames(reader: asyncio.StreamReader, until: int) -> list[tuple[int, bytes]]:
    parser = websocket.FrameParser(4096, masked=True)        # (client frames are masked)
    out: list[tuple[int, bytes]] = []
    async with asyncio.timeout(5):
        while not any(op == until for op, _ in out):
            out += parser.feed(await reader.read(4096))
    return out


async def test_frames_that_come_with_the_answer_are_delivered_in_order_and_a_hold_lets_the_loop_run(serve) -> None:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, accept: str) -> None:
        writer.write(_answer(accept) + b"".join(websocket.frame(websocket.BINARY, bytes([i])) for i in range(4)))
        await reader.read()
    url = await serve(script)
    seen_by_the_loop: list[int] = []
    recorder = Recorder(hold_after=b"\x01")
    ws = recorder.socket()
    opened = asyncio.ensure_future(ws.open(url, {"X-Test": "1"}, 5))

    async def watch() -> None:          # what the loop saw between deliveries
        while len(recorder.messages) < 4:
            seen_by_the_loop.append(len(recorder.messages))
            await asyncio.sleep(0)
    watcher = asyncio.ensure_future(watch())
    await opened
    async with asyncio.timeout(5):
        await watcher
    assert recorder.messages == [b"\x00", b"\x01", b"\x02", b"\x03"]
    assert 2 in seen_by_the_loop        # the loop ran after the held message, before the next one
    ws.close()
    await ws.wait_closed()


async def test_a_refused_upgrade_is_a_matchmake_error_with_the_status(serve) -> None:
    async def refuse(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, accept: str) -> None:
        writer.write(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
        await writer.drain()
    recorder = Recorder()
    with pytest.raises(MatchMakeError) as caught:
        await recorder.socket().open(await serve(refuse), {}, 5)
    assert caught.value.code == 403 and "Forbidden" in str(caught.value)

    async def wrong_key(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, accept: str) -> None:
        writer.write(_answer("AAAA" + accept[4:]))
        await writer.drain()
    with pytest.raises(MatchMakeError, match="Sec-WebSocket-Accept"):
        await recorder.socket().open(await serve(wrong_key), {}, 5)
    assert recorder.closed == []        # (open() raised: no close to report)


async def test_nobody_there_and_no_answer(serve) -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, accept: str) -> None:
        await asyncio.sleep(10)
    with pytest.raises(ConnectionError, match="no answer"):
        await Recorder().socket().open(await serve(silent), {}, 0.3)
    with pytest.raises(ConnectionError):
        await Recorder().socket().open("ws://127.0.0.1:9/room?x=1", {}, 5)


async def test_an_open_cancelled_during_the_handshake_closes_quietly(serve) -> None:
    # (a load test that ends while clients are still joining cancels their open())
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, accept: str) -> None:
        await asyncio.sleep(10)
    loop = asyncio.get_running_loop()
    errors: list[dict[str, Any]] = []
    loop.set_exception_handler(lambda loop, context: errors.append(context))
    recorder = Recorder()
    ws = recorder.socket()
    opening = asyncio.ensure_future(ws.open(await serve(silent), {}, 5))
    await asyncio.sleep(0.2)
    opening.cancel()
    with pytest.raises(asyncio.CancelledError):
        await opening
    await asyncio.wait_for(ws.wait_closed(), 5)
    await asyncio.sleep(0.05)
    loop.set_exception_handler(None)
    assert errors == [] and recorder.closed == []


async def test_pings_are_answered_and_a_server_close_is_echoed(serve) -> None:
    got: list[tuple[int, bytes]] = []

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, accept: str) -> None:
        writer.write(_answer(accept) + websocket.frame(websocket.PING, b"hi")
                     + websocket.close_frame(4000, b"bye"))
        got.extend(await _client_frames(reader, websocket.CLOSE))
    recorder = Recorder()
    ws = recorder.socket()
    await ws.open(await serve(script), {}, 5)
    await asyncio.wait_for(ws.wait_closed(), 5)
    assert got == [(websocket.PONG, b"hi"), (websocket.CLOSE, struct.pack("!H", 4000) + b"bye")]
    assert recorder.closed == [(4000, "bye")]


async def test_a_dropped_connection_is_1006_and_a_masked_server_frame_1002(serve) -> None:
    async def drop(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, accept: str) -> None:
        writer.write(_answer(accept))
        await writer.drain()
    recorder = Recorder()
    ws = recorder.socket()
    await ws.open(await serve(drop), {}, 5)
    await asyncio.wait_for(ws.wait_closed(), 5)
    assert recorder.closed == [(1006, "")]

    got: list[Any] = []

    async def masked(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, accept: str) -> None:
        writer.write(_answer(accept) + websocket.frame(websocket.BINARY, b"x", mask=True))
        got.extend(await _client_frames(reader, websocket.CLOSE))
    recorder = Recorder()
    ws = recorder.socket()
    await ws.open(await serve(masked), {}, 5)
    await asyncio.wait_for(ws.wait_closed(), 5)
    assert recorder.messages == [] and recorder.closed[0][0] == 1002
    assert got and got[-1][0] == websocket.CLOSE and got[-1][1][:2] == struct.pack("!H", 1002)
