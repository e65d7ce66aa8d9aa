"""The WebSocket transport on aiohttp: HTTP matchmaking routes and room sockets on one port.

This is the only module that knows aiohttp; it implements the contract of
``transport`` (``Transport``, ``Connection``) for a ``TransportHost``.
"""
from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import re
import struct
from collections.abc import Sequence
from typing import Any

from aiohttp import WSMsgType, web

from pyseus.protocol import CloseCode, ErrorCode, close_reason, error_body, generations

from .cors import CorsPolicy
from .limits import AddressLimiter, Limits, LogOnce, Networks, client_address
from .transport import Transport, TransportHost

__all__ = ["WebSocketTransport"]

log = logging.getLogger("pyseus.server.transport")

_TOKEN = re.compile(r"[A-Za-z0-9_-]+")
_CLOSE_TIMEOUT = 3.0          # for a peer to answer our close frame (then the connection is dropped)
_CUT_GRACE = 1.0             # for a peer that was cut off to read our close frame (then dropped)
_BUFFER_CHECK_PERIOD = 0.5    # how often the total of unsent bytes is checked


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

    def __init__(self, ws: web.WebSocketResponse, request: web.Request, remote_address: str,
                 max_buffered: int) -> None:
        self._ws = ws
        self._transport = request.transport
        self.remote_address = remote_address
        self._max_buffered = max_buffered
        self._closing: tuple[int, str] | None = None
        self._closer: asyncio.Task[None] | None = None
        self.missed_pings = 0
        self.pings: list[bytes] = []         # payloads of the pings not answered yet

    @property
    def open(self) -> bool:
        return self._closing is None and not self._ws.closed

    @property
    def buffered(self) -> int:
        transport = self._transport
        return transport.get_write_buffer_size() if transport is not None and not transport.is_closing() else 0

    def send(self, data: bytes) -> None:
        transport = self._transport
        if not self.open or transport is None or transport.is_closing():
            return
        if transport.get_write_buffer_size() > self._max_buffered:
            log.warning("dropping %s: %d bytes are waiting to be sent (limit send_buffer_bytes)",
                        self.remote_address, transport.get_write_buffer_size())
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
            await asyncio.wait_for(self._ws.close(code=code, message=close_reason(reason)), _CLOSE_TIMEOUT)
        except asyncio.TimeoutError:
            self.terminate()        # the peer does not answer the close
        except (ConnectionError, RuntimeError):
            return      # the peer is already gone
        except Exception:
            log.exception("closing the socket of %s failed", self.remote_address)

    def cut(self, code: int, reason: str = "") -> None:
        """Close at once, reading nothing more: the close frame, then the TCP connection.

        For a client that broke a limit: a graceful close would wait for its
        answer while still parsing whatever it keeps sending.
        """
        transport = self._transport
        if self._closing is not None or self._ws.closed or transport is None or transport.is_closing():
            return
        self._closing = (code, reason)
        payload = struct.pack("!H", code) + close_reason(reason)
        transport.pause_reading()
        transport.write(bytes((0x88, len(payload))) + payload)     # FIN + close opcode (<126 bytes)
        # Half-close: closing outright with unread bytes would send a reset, which
        # can destroy the close frame before the peer reads it.
        if transport.can_write_eof():
            transport.write_eof()
        asyncio.get_running_loop().call_later(_CUT_GRACE, transport.abort)

    def terminate(self) -> None:
        """Drop the TCP connection without a close frame."""
        self._closing = (CloseCode.ABNORMAL_CLOSURE, "")
        if self._transport is not None:
            self._transport.abort()

    def pong(self, payload: bytes) -> None:
        """A PONG counts only when it answers one of our pings."""
        if payload in self.pings:
            self.pings.clear()
            self.missed_pings = 0

    async def finish(self) -> None:
        """The socket is done: make sure it is closed (bounded)."""
        if self._closing is None:
            self.close(CloseCode.NORMAL_CLOSURE)
        if self._closer is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self._closer), _CLOSE_TIMEOUT + 1)
            except (asyncio.TimeoutError, asyncio.CancelledError):
                self._closer.cancel()
                self.terminate()


class _RequestDeadline(asyncio.Protocol):
    """aiohttp's protocol for one TCP connection, with a deadline to receive each request.

    aiohttp bounds the idle time between requests, but not the time a client
    takes to send one: a peer trickling header bytes would hold the connection
    for ever. The deadline starts with the connection and with the first bytes
    of each request, and stops when the request reaches its handler.
    """

    __slots__ = ("_inner", "_owner", "_transport", "_timer", "busy")

    def __init__(self, inner: asyncio.Protocol, owner: WebSocketTransport) -> None:
        self._inner = inner
        self._owner = owner
        self._transport: Any = None
        self._timer: asyncio.TimerHandle | None = None
        self.busy = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport         # (uvloop's transports are not asyncio.Transport subclasses)
        self._owner._deadlines[transport] = self
        self._arm()
        self._inner.connection_made(transport)

    def data_received(self, data: bytes) -> None:
        if not self.busy and self._timer is None:
            self._arm()
        self._inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self._inner.eof_received()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._owner._deadlines.pop(self._transport, None)
        self._inner.connection_lost(exc)

    def pause_writing(self) -> None:
        self._inner.pause_writing()

    def resume_writing(self) -> None:
        self._inner.resume_writing()

    def begin(self) -> None:
        """A request reached its handler."""
        self.busy = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def end(self) -> None:
        """Its handler returned: the next bytes start the next request's deadline."""
        self.busy = False

    def _arm(self) -> None:
        self._timer = asyncio.get_running_loop().call_later(self._owner.limits.request_timeout, self._expired)

    def _expired(self) -> None:
        self._timer = None
        if self._transport is not None and not self._transport.is_closing():
            peer = self._transport.get_extra_info("peername")
            log.info("closing the connection of %s: no complete request within %s s (limit request_timeout)",
                     peer[0] if peer else "?", self._owner.limits.request_timeout)
            self._transport.abort()


class WebSocketTransport(Transport):
    """aiohttp on one port: ``/…/matchmake/…`` for HTTP, any other path for room sockets.

    ``limits`` bound what each connection may cost (``pyseus.server.Limits``);
    ``trusted_proxies`` are the addresses whose ``X-Forwarded-For`` /
    ``X-Real-IP`` headers name the client; ``cors`` decides which web pages
    may call matchmaking and open sockets.
    """

    def __init__(self, *, max_payload: int = 4096, ping_interval: float = 3.0, ping_max_retries: int = 2,
                 limits: Limits | None = None, trusted_proxies: Sequence[str] = (),
                 cors: CorsPolicy | None = None) -> None:
        self.max_payload = max_payload
        self.ping_interval = ping_interval
        self.ping_max_retries = ping_max_retries
        self.limits = limits or Limits()
        self.trusted_proxies = Networks(trusted_proxies)
        self.cors = cors
        self.rate = AddressLimiter(self.limits.requests_per_second, self.limits.request_burst,
                                   Networks(self.limits.rate_limit_exempt))
        self._runner: web.AppRunner | None = None
        self._listener: asyncio.AbstractServer | None = None
        self._server: TransportHost | None = None
        self._sockets: dict[web.WebSocketResponse, _Connection] = {}
        self._deadlines: dict[object, _RequestDeadline] = {}     # by the connection's transport
        self._watcher: asyncio.Task[None] | None = None
        self._over_budget = LogOnce(log)
        # routes of the user's own (added before start(), they come before ours)
        self.app = web.Application(client_max_size=self.limits.max_body_bytes, middlewares=[self._guard])

    async def start(self, host: TransportHost, address: str, port: int) -> None:
        self._server = host
        if self.cors is None:
            self.cors = CorsPolicy(profile=host.profile)
        app = self.app
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=5,
                                     keepalive_timeout=self.limits.keepalive_timeout)
        await self._runner.setup()
        server = self._runner.server
        assert server is not None
        loop = asyncio.get_running_loop()
        self._listener = await loop.create_server(lambda: _RequestDeadline(server(), self), address, port,
                                                  reuse_address=True, backlog=1024)
        sockets: Sequence[Any] = self._listener.sockets or ()
        self.port = sockets[0].getsockname()[1] if sockets else port
        self._watcher = asyncio.ensure_future(self._watch_buffers())

    async def stop(self) -> None:
        if self._listener is not None:
            self._listener.close()
        if self._watcher is not None:
            self._watcher.cancel()
        for ws in list(self._sockets):
            with contextlib.suppress(asyncio.TimeoutError, ConnectionError, RuntimeError):
                await asyncio.wait_for(ws.close(code=CloseCode.GOING_AWAY), _CLOSE_TIMEOUT)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._listener is not None:
            await self._listener.wait_closed()
            self._listener = None

    @property
    def connections(self) -> int:
        """Open TCP connections (HTTP and room sockets)."""
        return len(self._deadlines)

    @web.middleware
    async def _guard(self, request: web.Request, handler: Any) -> web.StreamResponse:
        # Every request, to our routes and to the application's own: the request
        # deadline stops at its handler, and the per-address rate limit applies.
        deadline = self._deadlines.get(request.transport) if request.transport is not None else None
        if deadline is not None:
            deadline.begin()
        try:
            if not self.rate.allow(self._address(request)):
                return self._too_many(request)
            response: web.StreamResponse = await handler(request)
            return response
        finally:
            if deadline is not None:
                deadline.end()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        if "/matchmake" in request.path:
            return await self._matchmake(request)
        if request.headers.get("Upgrade", "").lower() == "websocket":
            return await self._websocket(request, self._address(request))
        return web.Response(status=404)

    def _too_many(self, request: web.Request) -> web.Response:
        assert self._server is not None and self.cors is not None
        code = generations.wire_error_code(ErrorCode.MATCHMAKE_UNHANDLED, self._server.profile)
        headers = self.cors.headers(request.headers.get("Origin"))
        headers["Retry-After"] = "1"
        return _json(error_body(code, "too many requests"), headers, 429)

    def _address(self, request: web.Request) -> str:
        peername = request.transport.get_extra_info("peername") if request.transport is not None else None
        return client_address(peername[0] if peername else "", request.headers, self.trusted_proxies)

    # ---- HTTP matchmaking ---------------------------------------------------------

    async def _matchmake(self, request: web.Request) -> web.Response:
        assert self._server is not None and self.cors is not None
        if self._server.shutting_down:
            return web.Response(status=503)
        headers = self.cors.headers(request.headers.get("Origin"))
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
        try:
            body = await asyncio.wait_for(request.read(), self.limits.request_timeout)
        except asyncio.TimeoutError:
            log.info("%s: the body of a matchmaking request did not arrive within %s s (limit request_timeout)",
                     self._address(request), self.limits.request_timeout)
            return web.Response(status=408, headers=headers)
        status, result = await self._server.matchmake(method, target, body, request.headers)
        return _json(result, headers, status)

    # ---- room sockets -----------------------------------------------------------

    async def _websocket(self, request: web.Request, address: str) -> web.StreamResponse:
        assert self._server is not None and self.cors is not None
        if not self.cors.socket_allowed(request.headers):
            log.info("refused a room socket from %s: origin %r is not allowed", address,
                     request.headers.get("Origin"))
            return web.Response(status=403)
        ws = web.WebSocketResponse(compress=False, max_msg_size=self.max_payload, autoping=False,
                                   autoclose=False, heartbeat=None, timeout=_CLOSE_TIMEOUT)
        await ws.prepare(request)
        conn = _Connection(ws, request, address, self.limits.send_buffer_bytes)
        self._sockets[ws] = conn
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
                    if conn.open:
                        await ws.pong(msg.data)
                elif msg.type == WSMsgType.PONG:
                    conn.pong(msg.data)
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
            self._sockets.pop(ws, None)
            if code is None:
                code = ws.close_code
            if conn._closing is not None and (code is None or conn._closing[0] == CloseCode.ABNORMAL_CLOSURE):
                code = conn._closing[0]         # we closed it (or dropped it)
            await conn.finish()
            await session.on_close(code)
        return ws

    async def _answer_close(self, ws: web.WebSocketResponse, request: web.Request, code: int, reason: str) -> int:
        # The client closed: answer with the same status, or with an empty close
        # frame when it sent none (then both sides see 1005, as with the reference).
        if code:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(ws.close(code=code, message=close_reason(reason or "")), _CLOSE_TIMEOUT)
            return int(code)
        with contextlib.suppress(ConnectionError, RuntimeError):     # the peer is already gone
            await ws.send_frame(b"", WSMsgType.CLOSE)
        if request.transport is not None:
            request.transport.close()
        return CloseCode.NO_STATUS

    async def _ping(self, ws: web.WebSocketResponse, conn: _Connection) -> None:
        # Ping every interval; a client that missed ping_max_retries pings is dropped.
        # Each ping carries fresh random bytes, which only a real answer echoes.
        try:
            while not ws.closed:
                await asyncio.sleep(self.ping_interval)
                if conn.missed_pings >= self.ping_max_retries:
                    log.info("dropping %s: no pong", conn.remote_address)
                    conn.terminate()
                    return
                conn.missed_pings += 1
                payload = os.urandom(8)
                conn.pings.append(payload)
                del conn.pings[:-self.ping_max_retries - 1]
                await ws.ping(payload)
        except (ConnectionError, RuntimeError, asyncio.CancelledError):
            return      # the socket closed: nothing left to ping

    async def _watch_buffers(self) -> None:
        # The per-socket cap bounds one client; this bounds them all together, by
        # dropping the sockets with the most unsent bytes.
        budget = self.limits.total_send_buffer_bytes
        while True:
            await asyncio.sleep(_BUFFER_CHECK_PERIOD)
            conns = list(self._sockets.values())
            total = sum(c.buffered for c in conns)
            if total <= budget:
                self._over_budget.clear("total")
                continue
            self._over_budget.trigger("total", "%d bytes wait to be sent to %d sockets (limit "
                                      "total_send_buffer_bytes %d): dropping the slowest readers",
                                      total, len(conns), budget)
            for conn in sorted(conns, key=lambda c: c.buffered, reverse=True):
                if total <= budget:
                    break
                total -= conn.buffered
                conn.terminate()


def _json(data: Any, headers: dict[str, str], status: int = 200) -> web.Response:
    return web.Response(body=json.dumps(data, separators=(",", ":")).encode(), headers=headers, status=status,
                        content_type="application/json")
