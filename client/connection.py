"""The client's room socket: a WebSocket on a plain asyncio connection.

Frames are parsed as they arrive (``pyseus.protocol.websocket``) and handed to
the room at once, and frames are written as they are sent: no task and no
queue per message, which is what lets one process hold thousands of rooms (the
load generator). ``WebSocket.open()`` does the opening handshake; the connection
answers pings and the server's close, and tells the room once, when it is over,
the close code (1006 when the connection dropped without one).
"""
from __future__ import annotations

import asyncio
import base64
import logging
import os
import ssl
from collections.abc import Callable
from urllib.parse import urlsplit

from pyseus._reading import SharedBufferReads, pick
from pyseus.protocol import CloseCode, close_reason, websocket

from .errors import MatchMakeError

__all__ = ["WebSocket", "open_websocket"]

log = logging.getLogger("pyseus.client.connection")

_frame, _BINARY, _TEXT = websocket.frame, websocket.BINARY, websocket.TEXT
_MAX_HEAD = 16384          # the server's answer to the handshake, headers included
_CLOSE_TIMEOUT = 5.0       # for the server to answer our close frame

# on_message(data) returns True when the room wants the event loop to run once
# before the next message (a joiner resumes and adds its handlers first)
OnMessage = Callable[[bytes], bool]
OnClosed = Callable[[int, str], None]


class WebSocket(asyncio.Protocol):
    """One client WebSocket: ``await WebSocket(on_message, on_closed, max_payload).open(url, headers, timeout)``."""

    # (slots: see Room.__slots__)
    __slots__ = ("_on_message", "_on_closed", "_parser", "_key", "_head", "handshake", "transport", "_held",
                 "_closing", "close_code", "close_reason", "done", "_timer", "__weakref__")

    def __init__(self, on_message: OnMessage, on_closed: OnClosed, max_payload: int) -> None:
        self._on_message = on_message
        self._on_closed = on_closed
        self._parser = websocket.FrameParser(max_payload, masked=False)
        self._key = base64.b64encode(os.urandom(16)).decode()
        self._head = b""
        self.handshake: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.transport: asyncio.Transport | None = None
        self._held: list[tuple[int, bytes]] = []
        self._closing: tuple[int, str] | None = None     # the close we started
        self.close_code: int | None = None
        self.close_reason = ""
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._timer: asyncio.TimerHandle | None = None

    @property
    def closed(self) -> bool:
        return self._closing is not None or self.done.done()

    def send(self, data: bytes) -> None:
        """Write one binary frame (masked, as clients must)."""
        transport = self.transport
        if self._closing is None and transport is not None and not transport.is_closing():
            transport.write(_frame(_BINARY, data, mask=True))

    @property
    def buffered(self) -> int:
        transport = self.transport
        return transport.get_write_buffer_size() if transport is not None and not transport.is_closing() else 0

    def close(self, code: int = CloseCode.NORMAL_CLOSURE, reason: str = "") -> None:
        """Start the close handshake (the connection is dropped if the server does not answer)."""
        if self.closed or self.transport is None:
            return
        self._closing = (code, reason)
        self.transport.write(websocket.close_frame(code, close_reason(reason), mask=True))
        self._timer = asyncio.get_running_loop().call_later(_CLOSE_TIMEOUT, self.abort)

    def abort(self) -> None:
        """Drop the connection without a close frame."""
        if self.transport is not None:
            self.transport.abort()

    async def wait_closed(self) -> None:
        await asyncio.shield(self.done)

    async def open(self, url: str, headers: dict[str, str], timeout: float) -> None:
        """Connect (``ws://`` or ``wss://``) and do the opening handshake; raises
        MatchMakeError when the server refuses the upgrade, ConnectionError when it
        cannot be reached. Frames that follow the handshake at once are delivered."""
        parts = urlsplit(url)
        if parts.scheme not in ("ws", "wss") or not parts.hostname:
            raise ValueError(f"not a WebSocket URL: {url!r}")
        secure = parts.scheme == "wss"
        port = parts.port or (443 if secure else 80)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        host = parts.hostname if parts.port is None else f"{parts.hostname}:{parts.port}"
        request = [f"GET {target} HTTP/1.1", f"Host: {host}", "Upgrade: websocket", "Connection: Upgrade",
                   f"Sec-WebSocket-Key: {self._key}", "Sec-WebSocket-Version: 13"]
        request += [f"{name}: {value}" for name, value in headers.items()]
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(timeout):
                await loop.create_connection(lambda: self, parts.hostname, port,
                                             ssl=ssl.create_default_context() if secure else None)
                assert self.transport is not None
                self.transport.write(("\r\n".join(request) + "\r\n\r\n").encode())
                await self.handshake
        except TimeoutError:
            self.abort()
            raise ConnectionError(f"cannot open {url}: no answer in {timeout} s") from None
        except MatchMakeError:
            raise
        except OSError as e:
            self.abort()
            raise ConnectionError(f"cannot open {url}: {e}") from e
        except BaseException:
            self.abort()
            raise

    # ---- asyncio.Protocol ------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport      # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        if not self.handshake.done():
            self._head += data
            end = self._head.find(b"\r\n\r\n")
            if end < 0:
                if len(self._head) > _MAX_HEAD:
                    self._refused(0, "the handshake answer is too long")
                return
            head, data = self._head[:end].decode("latin-1"), self._head[end + 4:]
            self._head = b""
            if not self._accepted(head):
                return
            self.handshake.set_result(None)
            if not data:
                return
        if self._held:
            self._hold(data)
            return
        try:
            messages = self._parser.feed(data)
        except websocket.FrameError as e:
            log.warning("closing a room socket: %s", e)
            self._fail(e.code, e.reason)
            return
        if len(messages) == 1 and messages[0][0] == _BINARY and not self.done.done():
            self._on_message(messages[0][1])     # (one message per read, nothing can follow it: no hold)
        else:
            self._deliver(messages)

    def eof_received(self) -> bool:
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        if self._timer is not None:
            self._timer.cancel()
        if not self.handshake.done():
            self.handshake.set_exception(ConnectionError(f"the connection closed during the handshake: {exc}"))
        if self.done.done():
            return
        if self.close_code is None:
            if self._closing is not None:
                self.close_code, self.close_reason = self._closing
            else:
                self.close_code = CloseCode.ABNORMAL_CLOSURE
        self.done.set_result(None)
        if not self.handshake.cancelled() and self.handshake.exception() is None:
            # (a refused handshake is open()'s error to raise, a cancelled open() has no one to tell)
            self._on_closed(self.close_code, self.close_reason)

    # ---- frames --------------------------------------------------------------------------

    def _deliver(self, messages: list[tuple[int, bytes]]) -> None:
        for i, (op, payload) in enumerate(messages):
            if op == _BINARY or op == _TEXT:
                if self.done.done():
                    return
                if self._on_message(payload) and i + 1 < len(messages):
                    # the loop runs once (the joiner resumes) before the next message
                    self._held = messages[i + 1:]
                    if self.transport is not None:
                        self.transport.pause_reading()
                    asyncio.get_running_loop().call_soon(self._release)
                    return
            elif op == websocket.PING:
                if not self.closed and self.transport is not None:
                    self.transport.write(websocket.frame(websocket.PONG, payload, mask=True))
            elif op == websocket.CLOSE:
                self._server_closed(payload)
                return

    def _hold(self, data: bytes) -> None:
        try:
            self._held.extend(self._parser.feed(data))
        except websocket.FrameError as e:
            self._fail(e.code, e.reason)

    def _release(self) -> None:
        held, self._held = self._held, []
        if self.transport is not None and not self.transport.is_closing():
            self.transport.resume_reading()
        self._deliver(held)

    def _server_closed(self, payload: bytes) -> None:
        try:
            code, reason = websocket.parse_close(payload)
        except websocket.FrameError as e:
            self._fail(e.code, e.reason)
            return
        self.close_code = code if code is not None else CloseCode.NO_STATUS
        self.close_reason = reason
        if self._closing is None and self.transport is not None:
            self._closing = (self.close_code, reason)
            self.transport.write(websocket.close_frame(code, close_reason(reason), mask=True))
        if self._timer is not None:
            self._timer.cancel()
        # the server closes the TCP connection; if it does not, we do
        self._timer = asyncio.get_running_loop().call_later(_CLOSE_TIMEOUT, self.abort)

    def _fail(self, code: int, reason: str) -> None:
        self.close_code, self.close_reason = code, reason
        if self.transport is not None:
            if not self.closed:
                self._closing = (code, reason)
                self.transport.write(websocket.close_frame(code, close_reason(reason), mask=True))
            self.transport.close()

    # ---- the opening handshake ------------------------------------------------------------

    def _accepted(self, head: str) -> bool:
        lines = head.split("\r\n")
        parts = lines[0].split(" ", 2)
        try:
            status = int(parts[1])
        except (IndexError, ValueError):
            self._refused(0, f"not an HTTP answer: {lines[0][:100]!r}")
            return False
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        if status != 101:
            self._refused(status, parts[2] if len(parts) > 2 else "")
            return False
        if headers.get("sec-websocket-accept") != websocket.accept_key(self._key):
            self._refused(status, "the server's Sec-WebSocket-Accept is wrong")
            return False
        return True

    def _refused(self, status: int, reason: str) -> None:
        if not self.handshake.done():
            self.handshake.set_exception(MatchMakeError(status, reason))
        if self.transport is not None:
            self.transport.close()


class _BufferedWebSocket(WebSocket, SharedBufferReads):
    """A ``WebSocket`` reading into the shared buffer (``pyseus._reading``)."""


def open_websocket(on_message: OnMessage, on_closed: OnClosed, max_payload: int) -> WebSocket:
    """A ``WebSocket`` of the class that reads fastest on the running loop (call ``open()`` next)."""
    return pick(WebSocket, _BufferedWebSocket)(on_message, on_closed, max_payload)
