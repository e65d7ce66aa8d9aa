"""The WebSocket transport on aiohttp: HTTP matchmaking routes and room sockets on one port.

This is the only module that knows aiohttp; it implements the contract of
``transport`` (``Transport``, ``Connection``) for a ``TransportHost``.
"""
from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import struct
from typing import Any

from aiohttp import WSMsgType, web

from pyseus.protocol import CloseCode

from .transport import Transport, TransportHost

__all__ = ["WebSocketTransport"]

log = logging.getLogger("pyseus.server.transport")

_TOKEN = re.compile(r"[A-Za-z0-9_-]+")
_CORS = {
    "Access-Control-Allow-Headers": "Origin, X-Requested-With, Content-Type, Accept, Authorization",
    "Access-Control-Allow-Credentials": "true",
    "Access-Control-Max-Age": "2592000",
}
# the methods each generation announces (0.17+ answer for a wider router)
_CORS_METHODS = {"0.16": "OPTIONS, POST, GET"}
_CORS_METHODS_0_17 = "GET,HEAD,PUT,PATCH,POST,DELETE"
# A client whose outgoing frames pile up beyond this is dropped rather than
# letting the server's memory grow without bound.
_MAX_BUFFERED_BYTES = 32 * 1024 * 1024


def _frame_header(n: int) -> bytes:
    # FIN + binary opcode; server frames are not masked (RFC 6455, 5.2)
    if n < 126:
        return bytes((0x82, n))
    if n < 65536:
        return struct.pack("!BBH", 0x82, 126, n)
    return struct.pack("!BBQ", 0x82, 127, n)


class _Connection:
    """One aiohttp WebSocket as the rooms see it (a ``Connection``): non-blocking send and close.

    Binary frames are written straight to the socket's transport, whole and in
    order (no task switch per frame: a patch goes to every client of a room in
    one pass). aiohttp still handles the handshake, reading, pings and the
    close handshake; its frames are whole writes too, so they never interleave
    with ours.
    """

    def __init__(self, ws: web.WebSocketResponse, request: web.Request) -> None:
        self._ws = ws
        self._transport = request.transport
        peername = request.transport.get_extra_info("peername") if request.transport else None
        self.remote_address = (request.headers.get("X-Real-IP")
                               or request.headers.get("X-Forwarded-For", "").split(",")[0].strip()
                               or (peername[0] if peername else ""))
        self._closing: tuple[int, str] | None = None
        self._closer: asyncio.Task[None] | None = None
        self.missed_pings = 0

    @property
    def open(self) -> bool:
        return self._closing is None and not self._ws.closed

    def send(self, data: bytes) -> None:
        transport = self._transport
        if not self.open or transport is None or transport.is_closing():
            return
        if transport.get_write_buffer_size() > _MAX_BUFFERED_BYTES:
            log.warning("dropping %s: %d bytes are waiting to be sent", self.remote_address,
                        transport.get_write_buffer_size())
            self.terminate()
            return
        transport.write(_frame_header(len(data)) + data)

    def close(self, code: int | None = None, reason: str = "") -> None:
        if self._closing is None and not self._ws.closed:
            # a close frame always carries a code here (1000 when none is given)
            self._closing = (code if code is not None else CloseCode.NORMAL_CLOSURE, reason)
            self._closer = asyncio.ensure_future(self._close(*self._closing))

    async def _close(self, code: int, reason: str) -> None:
        try:
            await self._ws.close(code=code, message=reason.encode())
        except (ConnectionError, RuntimeError):
            return      # the peer is already gone
        except Exception:
            log.exception("closing the socket of %s failed", self.remote_address)

    def terminate(self) -> None:
        """Drop the TCP connection without a close frame."""
        self._closing = (CloseCode.ABNORMAL_CLOSURE, "")
        if self._transport is not None:
            self._transport.abort()

    async def finish(self) -> None:
        """The socket is done: make sure it is closed (bounded)."""
        if self._closing is None:
            self.close(CloseCode.NORMAL_CLOSURE)
        if self._closer is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self._closer), 5)
            except (asyncio.TimeoutError, asyncio.CancelledError):
                self._closer.cancel()


class WebSocketTransport(Transport):
    """aiohttp on one port: ``/…/matchmake/…`` for HTTP, any other path for room sockets."""

    def __init__(self, *, max_payload: int = 4096, ping_interval: float = 3.0, ping_max_retries: int = 2) -> None:
        self.max_payload = max_payload
        self.ping_interval = ping_interval
        self.ping_max_retries = ping_max_retries
        self._runner: web.AppRunner | None = None
        self._server: TransportHost | None = None
        self._sockets: set[web.WebSocketResponse] = set()

    async def start(self, host: TransportHost, address: str, port: int) -> None:
        self._server = host
        app = web.Application(client_max_size=1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, address, port, reuse_address=True)
        await site.start()
        sockets = getattr(site._server, "sockets", None) or []
        self.port = sockets[0].getsockname()[1] if sockets else port

    async def stop(self) -> None:
        for ws in list(self._sockets):
            await ws.close(code=CloseCode.GOING_AWAY)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        if "/matchmake" in request.path:
            return await self._matchmake(request)
        if request.headers.get("Upgrade", "").lower() == "websocket":
            return await self._websocket(request)
        return web.Response(status=404)

    # ---- HTTP matchmaking ---------------------------------------------------------

    async def _matchmake(self, request: web.Request) -> web.Response:
        assert self._server is not None
        if self._server.shutting_down:
            return web.Response(status=503)
        headers = dict(_CORS)
        headers["Access-Control-Allow-Methods"] = _CORS_METHODS.get(self._server.profile, _CORS_METHODS_0_17)
        headers["Access-Control-Allow-Origin"] = request.headers.get("Origin", "*")
        tokens = _TOKEN.findall(request.path)
        rest = tokens[tokens.index("matchmake") + 1:] if "matchmake" in tokens else []
        if request.method == "OPTIONS":
            return web.Response(status=204, headers=headers)
        if request.method == "GET":
            # (the reference answers 404 here; this lists the rooms of one type)
            if len(rest) != 1:
                return web.Response(status=404, headers=headers)
            rooms = await self._server.get_available_rooms(rest[0])
            return _json(rooms, headers)
        if request.method != "POST":
            return web.Response(status=405, headers=headers)
        method = rest[0] if rest else ""
        target = rest[1] if len(rest) > 1 else ""
        body = await request.read()
        status, result = await self._server.matchmake(method, target, body, request.headers)
        return _json(result, headers, status)

    # ---- room sockets -----------------------------------------------------------

    async def _websocket(self, request: web.Request) -> web.WebSocketResponse:
        assert self._server is not None
        ws = web.WebSocketResponse(compress=False, max_msg_size=self.max_payload, autoping=False,
                                   autoclose=False, heartbeat=None)
        await ws.prepare(request)
        self._sockets.add(ws)
        conn = _Connection(ws, request)
        segments = [s for s in request.path.split("/") if s]
        room_id = segments[-1] if len(segments) >= 1 and _TOKEN.fullmatch(segments[-1]) else ""
        session = self._server.open_socket(conn, room_id, dict(request.query), request.headers)
        pinger = asyncio.ensure_future(self._ping(ws, conn))
        code: int | None = None
        try:
            while True:
                msg = await ws.receive()
                if msg.type == WSMsgType.BINARY:
                    session.on_frame(msg.data)
                elif msg.type == WSMsgType.TEXT:
                    session.on_frame(msg.data.encode())
                elif msg.type == WSMsgType.PING:
                    await ws.pong(msg.data)
                elif msg.type == WSMsgType.PONG:
                    conn.missed_pings = 0
                elif msg.type == WSMsgType.CLOSE:
                    code = await self._answer_close(ws, request, msg.data, msg.extra or "")
                    break
                else:       # CLOSING, CLOSED, ERROR (too big: aiohttp closed with 1009)
                    code = ws.close_code
                    break
        except Exception:
            log.exception("socket from %s failed", conn.remote_address)
        finally:
            pinger.cancel()
            self._sockets.discard(ws)
            if code is None:
                code = ws.close_code
            if conn._closing is not None and conn._closing[0] == CloseCode.ABNORMAL_CLOSURE:
                code = CloseCode.ABNORMAL_CLOSURE
            await conn.finish()
            await session.on_close(code)
        return ws

    async def _answer_close(self, ws: web.WebSocketResponse, request: web.Request, code: int, reason: str) -> int:
        # The client closed: answer with the same status, or with an empty close
        # frame when it sent none (then both sides see 1005, as with the reference).
        if code:
            await ws.close(code=code, message=(reason or "").encode())
            return int(code)
        with contextlib.suppress(ConnectionError, RuntimeError):     # the peer is already gone
            await ws.send_frame(b"", WSMsgType.CLOSE)
        if request.transport is not None:
            request.transport.close()
        return CloseCode.NO_STATUS

    async def _ping(self, ws: web.WebSocketResponse, conn: _Connection) -> None:
        # Ping every interval; a client that missed ping_max_retries pings is dropped.
        try:
            while not ws.closed:
                await asyncio.sleep(self.ping_interval)
                if conn.missed_pings >= self.ping_max_retries:
                    log.info("dropping %s: no pong", conn.remote_address)
                    conn.terminate()
                    return
                conn.missed_pings += 1
                await ws.ping()
        except (ConnectionError, RuntimeError, asyncio.CancelledError):
            return      # the socket closed: nothing left to ping


def _json(data: Any, headers: dict[str, str], status: int = 200) -> web.Response:
    return web.Response(body=json.dumps(data, separators=(",", ":")).encode(), headers=headers, status=status,
                        content_type="application/json")
