"""A raw HTTP + WebSocket client for the tests that look at frames and close codes."""
from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
from typing import Any

import aiohttp

from pyseus import protocol


class RawSocket:
    """One room socket: the frames received, in order, and the close code."""

    def __init__(self, session: aiohttp.ClientSession, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.session = session
        self.ws = ws
        self.frames: list[Any] = []
        self.raw: list[bytes] = []            # the same frames, as received
        self.close_code: int | None = None
        self.close_reason: str = ""
        self._reader = asyncio.ensure_future(self._read())
        self._new = asyncio.Event()

    async def _read(self) -> None:
        while True:
            msg = await self.ws.receive()
            if msg.type == aiohttp.WSMsgType.BINARY:
                self.raw.append(msg.data)
                self.frames.append(protocol.parse_server_frame(msg.data))
                self._new.set()
            elif msg.type == aiohttp.WSMsgType.CLOSE:
                self.close_reason = msg.extra or ""
            elif msg.type in (aiohttp.WSMsgType.CLOSING, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR):
                break
        self.close_code = self.ws.close_code
        self._new.set()

    async def next(self, kind: type, timeout: float = 5.0, start: int = 0) -> Any:
        """The first received frame of this class (after index ``start``)."""
        async def find() -> Any:
            while True:
                for frame in self.frames[start:]:
                    if isinstance(frame, kind):
                        return frame
                if self.close_code is not None:
                    raise AssertionError(f"closed ({self.close_code}) before a {kind.__name__} arrived")
                self._new.clear()
                await self._new.wait()
        return await asyncio.wait_for(find(), timeout)

    async def closed(self, timeout: float = 5.0) -> int | None:
        await asyncio.wait_for(asyncio.shield(self._reader), timeout)
        return self.close_code

    async def send(self, data: bytes) -> None:
        await self.ws.send_bytes(data)

    async def close(self, code: int = 1000) -> None:
        await self.ws.close(code=code)
        await self.session.close()


async def reserve(base: str, method: str, name: str, options: dict[str, Any] | None = None,
                  headers: dict[str, str] | None = None) -> dict[str, Any]:
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{base}/matchmake/{method}/{name}", data=json.dumps(options or {}),
                             headers=headers or {}) as resp:
            return await resp.json()


async def open_socket(base: str, path: str, autoping: bool = True, headers: dict[str, str] | None = None,
                      **query: str) -> RawSocket:
    session = aiohttp.ClientSession()
    url = base.replace("http://", "ws://") + path
    ws = await session.ws_connect(url, params=query or None, autoping=autoping, autoclose=True,
                                  max_msg_size=0, headers=headers)
    return RawSocket(session, ws)


async def join(base: str, name: str, options: dict[str, Any] | None = None, ack: bool = True) -> tuple[
        RawSocket, dict[str, Any]]:
    """Reserve a seat, open its socket, and acknowledge JOIN_ROOM."""
    seat = await reserve(base, "joinOrCreate", name, options)
    room = seat["room"]
    sock = await open_socket(base, f"/{room['processId']}/{room['roomId']}", sessionId=seat["sessionId"])
    await sock.next(protocol.JoinRoom)
    if ack:
        await sock.send(protocol.join_ack())
    return sock, seat


def client_frame(payload: bytes) -> bytes:
    """A masked binary frame, as a client must send it (RFC 6455, 5.3)."""
    mask = os.urandom(4)
    assert len(payload) < 126
    return bytes((0x82, 0x80 | len(payload))) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


async def claim_without_reading(port: int, seat: dict[str, Any], *, rcvbuf: int | None = None) -> tuple[
        asyncio.StreamReader, asyncio.StreamWriter]:
    """A socket that claims ``seat``, acknowledges JOIN_ROOM unseen, and is left to the
    caller (who may never read it); ``rcvbuf`` shrinks its kernel receive buffer."""
    sock = socket.socket()
    if rcvbuf is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
    reader, writer = await asyncio.open_connection(sock=sock)
    key = base64.b64encode(os.urandom(16)).decode()
    path = f"/{seat['room']['processId']}/{seat['room']['roomId']}?sessionId={seat['sessionId']}"
    writer.write((f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
    assert (await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)).startswith(b"HTTP/1.1 101")
    writer.write(client_frame(protocol.join_ack()))
    return reader, writer
