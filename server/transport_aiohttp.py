"""The WebSocket transport on aiohttp: HTTP matchmaking routes and room sockets on one port.

This is the only module that knows aiohttp; it implements the contract of
``transport`` (``Transport``, ``Connection``) for a ``TransportHost``.
"""
from __future__ import annotations

import asyncio
import base64
import json
import logging
import os
import re
from collections.abc import Sequence
from typing import Any

from aiohttp import web

from pyseus._reading import SharedBufferReads, pick
from pyseus.protocol import CloseCode, ErrorCode, close_reason, error_body, generations, websocket

from .cors import CorsPolicy
from .limits import AddressLimiter, Limits, LogOnce, Networks, client_address
from .transport import SocketHandler, Transport, TransportHost

__all__ = ["WebSocketTransport"]

log = logging.getLogger("pyseus.server.transport")

_TOKEN = re.compile(r"[A-Za-z0-9_-]+")
_CLOSE_TIMEOUT = 3.0          # for a peer to answer our close frame (then the connection is dropped)
_CUT_GRACE = 1.0             # for a peer that was cut off to read our close frame (then dropped)
_BUFFER_CHECK_PERIOD = 0.5    # how often the total of unsent bytes is checked


# The last payload framed, with its frame: a room writes one patch to all its
# clients in one pass, so the frame is built once per patch, not once per client.
_last_framed: tuple[bytes, bytes] = (b"", websocket.frame(websocket.BINARY, b""))


class _Connection(asyncio.Protocol):
    """One room socket as the rooms see it (a ``Connection``), and its reader.

    aiohttp answers the HTTP request and hands the upgraded connection's bytes
    to this object (``feed_data``, aiohttp's payload-parser interface). They
    are parsed here (``pyseus.protocol.websocket``) and each message goes to
    the session at once: no queue and no task switch per message, which is
    where aiohttp's own WebSocket reader spent most of a room server's time
    when clients send input. Frames are written straight to the transport,
    whole and in order. Pings, pongs and the close handshake are handled here.
    """

    # Slots, not a dict: every message touches the socket, session and client
    # objects of one among hundreds, mostly out of the cache; fewer lines per
    # object cost less (server CPU at 500 clients with input: 3 pairs of runs,
    # 24.4-25.0 % against 26.0-28.3 % without).
    __slots__ = ("_closing", "_deadline", "_full", "_max_buffered", "_parser", "_reading", "_timer", "_transport",
                 "close_code", "done", "missed_pings", "open", "pings", "remote_address", "session", "__weakref__")

    def __init__(self, transport: asyncio.Transport, remote_address: str, max_buffered: int,
                 max_payload: int) -> None:
        self._transport = transport
        self.remote_address = remote_address
        self._max_buffered = max_buffered
        # The unsent bytes are counted only once the transport's flow control says
        # they passed its high-water mark (pause_writing), which is kept at or
        # below max_buffered: most sends then skip the count.
        if transport.get_write_buffer_limits()[1] > max_buffered:
            transport.set_write_buffer_limits(high=max_buffered)
        self._full = transport.get_write_buffer_size() > 0     # (paused before it was ours?)
        self.open = True        # False once a close started (from either side), or the socket is gone
        self._parser = websocket.FrameParser(max_payload, masked=True)
        self.session: SocketHandler | None = None
        self._closing: tuple[int, str] | None = None     # the close we started (code, reason)
        self._reading = True
        self.close_code: int | None = None               # what the session is told at the end
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._timer: asyncio.TimerHandle | None = None
        self._deadline: _RequestDeadline | None = None     # the connection's protocol before take_over()
        self.missed_pings = 0
        self.pings: list[bytes] = []         # payloads of the pings not answered yet

    @property
    def buffered(self) -> int:
        transport = self._transport
        return transport.get_write_buffer_size() if not transport.is_closing() else 0

    # ---- the rooms' side -------------------------------------------------------------

    def send(self, data: bytes) -> None:
        transport = self._transport
        if not self.open or transport.is_closing():
            return
        if self._full and transport.get_write_buffer_size() > self._max_buffered:
            log.warning("dropping %s: %d bytes are waiting to be sent (limit send_buffer_bytes)",
                        self.remote_address, transport.get_write_buffer_size())
            self.terminate()
            return
        global _last_framed
        if _last_framed[0] is not data:
            _last_framed = (data, websocket.frame(websocket.BINARY, data))
        transport.write(_last_framed[1])

    def close(self, code: int | None = None, reason: str = "") -> None:
        """Start the close handshake (1000 when no code is given); the peer has
        ``_CLOSE_TIMEOUT`` seconds to answer before the connection is dropped."""
        if self._closing is not None or self.done.done():
            return
        self._closing = (code if code is not None else CloseCode.NORMAL_CLOSURE, reason)
        self.open = False
        self._write(websocket.close_frame(self._closing[0], close_reason(reason)))
        self._timer = asyncio.get_running_loop().call_later(_CLOSE_TIMEOUT, self.terminate)

    def cut(self, code: int, reason: str = "") -> None:
        """Close at once, reading nothing more: the close frame, then the TCP connection.

        For a client that broke a limit: a graceful close would wait for its
        answer while still parsing whatever it keeps sending.
        """
        transport = self._transport
        if self._closing is not None or self.done.done() or transport.is_closing():
            return
        self._closing = (code, reason)
        self.open = False
        self._reading = False
        transport.pause_reading()
        transport.write(websocket.close_frame(code, close_reason(reason)))
        # Half-close: closing outright with unread bytes would send a reset, which
        # can destroy the close frame before the peer reads it.
        if transport.can_write_eof():
            transport.write_eof()
        self._timer = asyncio.get_running_loop().call_later(_CUT_GRACE, transport.abort)

    def terminate(self) -> None:
        """Drop the TCP connection without a close frame."""
        if self._closing is None:
            self._closing = (CloseCode.ABNORMAL_CLOSURE, "")
        self.open = False
        self.close_code = CloseCode.ABNORMAL_CLOSURE
        self._reading = False
        self._transport.abort()

    def ping(self, keep: int) -> None:
        """Send a ping of fresh random bytes; the last ``keep`` pings may be answered."""
        payload = os.urandom(8)
        self.pings.append(payload)
        del self.pings[:-keep]
        self._write(websocket.frame(websocket.PING, payload))

    def pong(self, payload: bytes) -> None:
        """A PONG counts only when it answers one of our pings."""
        if payload in self.pings:
            self.pings.clear()
            self.missed_pings = 0

    def _write(self, data: bytes) -> None:
        if not self._transport.is_closing():
            self._transport.write(data)

    # ---- the bytes of the upgraded connection ----------------------------------------------

    def take_over(self, deadline: _RequestDeadline) -> None:
        """Become the connection's protocol in place of ``deadline`` (which makes
        aiohttp let go of it): reads come here without passing through aiohttp's
        request handler and our request deadline; the end of the connection is
        still told to ``deadline``, which counts the open connections."""
        self._deadline = deadline
        self._transport.set_protocol(self)
        deadline.hand_over()

    def eof_received(self) -> bool:
        return False            # (a peer that stops sending is done: close)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._deadline is not None:
            self._deadline.connection_lost(exc)
        self.feed_eof()

    def pause_writing(self) -> None:
        self._full = True

    def resume_writing(self) -> None:
        self._full = False

    def feed_data(self, data: bytes) -> tuple[bool, bytes]:
        # (aiohttp's payload-parser interface: the bytes that came with the request)
        if not self._reading:
            return False, b""
        try:
            messages = self._parser.feed(data)
        except websocket.FrameError as e:
            log.info("closing the socket of %s: %s", self.remote_address, e)
            self.close_code = e.code
            self.cut(e.code, e.reason)
            return False, b""
        session = self.session
        for op, payload in messages:
            if not self._reading:
                break           # (cut by the session: a limit broken by an earlier message)
            if op == websocket.BINARY or op == websocket.TEXT:
                if session is not None and self._closing is None:
                    try:
                        session.on_frame(payload)
                    except Exception:
                        log.exception("the frame of %s failed", self.remote_address)
                        self.close(CloseCode.SERVER_ERROR)
            elif op == websocket.PING:
                if self.open:
                    self._write(websocket.frame(websocket.PONG, payload))
            elif op == websocket.PONG:
                self.pong(payload)
            else:
                self._peer_closed(payload)
                break
        return False, b""

    # (the loop's reads, once the connection is ours: the same bytes, one call less)
    data_received = feed_data  # type: ignore[assignment]

    def feed_eof(self) -> None:
        # the TCP connection is gone (aiohttp's connection_lost)
        self._reading = False
        self.open = False
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self.close_code is None:
            self.close_code = self._closing[0] if self._closing is not None else CloseCode.ABNORMAL_CLOSURE
        if not self.done.done():
            self.done.set_result(None)

    def _peer_closed(self, payload: bytes) -> None:
        self._reading = False
        try:
            code, reason = websocket.parse_close(payload)
        except websocket.FrameError as e:
            self.close_code = e.code
            self._write(websocket.close_frame(e.code, close_reason(e.reason)))
        else:
            if self._closing is not None:
                self.close_code = self._closing[0]      # the answer to our close
            else:
                # The client closed: answer with the same status, or with an empty close
                # frame when it sent none (then both sides see 1005, as with the reference).
                self.close_code = code if code is not None else CloseCode.NO_STATUS
                self._write(websocket.close_frame(code, close_reason(reason)))
        self._transport.close()         # (the server closes the TCP connection first)


class _BufferedConnection(_Connection, SharedBufferReads):
    """A ``_Connection`` reading into the shared buffer (``pyseus._reading``)."""


class _RequestDeadline(asyncio.Protocol):
    """aiohttp's protocol for one TCP connection, with a deadline to receive each request.

    aiohttp bounds the idle time between requests, but not the time a client
    takes to send one: a peer trickling header bytes would hold the connection
    for ever. The deadline starts with the connection and with the first bytes
    of each request, and stops when the request reaches its handler.
    """

    __slots__ = ("_inner", "_owner", "_transport", "_timer", "busy")

    def __init__(self, inner: asyncio.Protocol, owner: WebSocketTransport) -> None:
        self._inner = inner             # aiohttp's protocol, until hand_over()
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

    def hand_over(self) -> None:
        """The connection became a room socket, now the transport's protocol.

        aiohttp is told it lost the connection, without writing to it or closing
        it: it forgets the connection, and once the upgrade's handler returns,
        frees the request and its parser (about 12 KB a socket in RSS). Only the
        end of the connection is told here from now on.
        """
        inner, self._inner = self._inner, _LET_GO
        if isinstance(inner, web.RequestHandler):
            inner.transport = None      # (no longer aiohttp's to write to or to close)
            inner.connection_lost(None)

    def _arm(self) -> None:
        self._timer = asyncio.get_running_loop().call_later(self._owner.limits.request_timeout, self._expired)

    def _expired(self) -> None:
        self._timer = None
        if self._transport is not None and not self._transport.is_closing():
            peer = self._transport.get_extra_info("peername")
            log.info("closing the connection of %s: no complete request within %s s (limit request_timeout)",
                     peer[0] if peer else "?", self._owner.limits.request_timeout)
            self._transport.abort()


_LET_GO = asyncio.Protocol()        # (does nothing: in place of aiohttp's protocol once it let go)


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
        self._sockets: dict[_Connection, _Connection] = {}
        self._deadlines: dict[object, _RequestDeadline] = {}     # by the connection's transport
        self._watcher: asyncio.Task[None] | None = None
        self._pinger: asyncio.Task[None] | None = None
        self._endings: set[asyncio.Task[None]] = set()      # sessions told their socket closed
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
        self._pinger = asyncio.ensure_future(self._ping())

    async def stop(self) -> None:
        if self._listener is not None:
            self._listener.close()
        for task in (self._watcher, self._pinger):
            if task is not None:
                task.cancel()
        conns = list(self._sockets)
        for conn in conns:
            conn.close(CloseCode.GOING_AWAY)
        if conns:
            await asyncio.wait([asyncio.shield(c.done) for c in conns], timeout=_CLOSE_TIMEOUT + 1)
        if self._endings:
            await asyncio.wait(self._endings, timeout=_CLOSE_TIMEOUT)
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
        refused = _refuse_handshake(request)
        if refused is not None:
            return refused
        transport = request.transport
        if transport is None:
            return web.Response(status=400)
        response = web.StreamResponse(status=101, headers={
            "Upgrade": "websocket", "Connection": "Upgrade",
            "Sec-WebSocket-Accept": websocket.accept_key(request.headers["Sec-WebSocket-Key"])})
        response.force_close()      # (no request follows on this connection)
        await response.prepare(request)
        conn = pick(_Connection, _BufferedConnection)(transport, address, self.limits.send_buffer_bytes,
                                                      self.max_payload)
        self._sockets[conn] = conn
        segments = [s for s in request.path.split("/") if s]
        room_id = segments[-1] if len(segments) >= 1 and _TOKEN.fullmatch(segments[-1]) else ""
        try:
            conn.session = self._server.open_socket(conn, room_id, dict(request.query), request.headers)
        except Exception:
            log.exception("opening the socket of %s failed", address)
            conn.close(CloseCode.SERVER_ERROR)
        # conn becomes the connection's protocol, the bytes that came after the
        # request go to it (aiohttp's payload-parser interface), and this handler
        # returns: the socket lives on without aiohttp's request objects.
        deadline = None if transport.is_closing() else self._deadlines.get(transport)
        if deadline is not None:
            conn.take_over(deadline)
        request.protocol.set_parser(conn)  # type: ignore[arg-type]
        if deadline is None:
            conn.feed_eof()         # (gone already: aiohttp had no reader to tell)
        request.content.feed_eof()      # (the upgrade has no body: nothing for aiohttp to wait for)
        conn.done.add_done_callback(lambda _: self._socket_ended(conn))
        return response

    def _socket_ended(self, conn: _Connection) -> None:
        self._sockets.pop(conn, None)
        if conn.session is not None:
            task = asyncio.ensure_future(self._tell_session(conn, conn.session))
            self._endings.add(task)
            task.add_done_callback(self._endings.discard)

    @staticmethod
    async def _tell_session(conn: _Connection, session: SocketHandler) -> None:
        try:
            await session.on_close(conn.close_code)
        except Exception:
            log.exception("ending the socket of %s failed", conn.remote_address)

    async def _ping(self) -> None:
        # Every interval, each socket is pinged; one that missed ping_max_retries
        # pings is dropped. Each ping carries fresh random bytes, which only a real
        # answer echoes. (One task for all: a task per socket cost a wakeup each
        # interval, and its memory.)
        while True:
            await asyncio.sleep(self.ping_interval)
            for conn in list(self._sockets):
                if not conn.open:
                    continue
                if conn.missed_pings >= self.ping_max_retries:
                    log.info("dropping %s: no pong", conn.remote_address)
                    conn.terminate()
                else:
                    conn.missed_pings += 1
                    conn.ping(keep=self.ping_max_retries + 1)

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


def _refuse_handshake(request: web.Request) -> web.Response | None:
    # The opening handshake of RFC 6455 (4.2.1): what makes a request a WebSocket upgrade.
    headers = request.headers
    if request.method != "GET" or "upgrade" not in headers.get("Connection", "").lower():
        return web.Response(status=400, text="not a WebSocket upgrade")
    if headers.get("Sec-WebSocket-Version") != "13":
        return web.Response(status=426, headers={"Sec-WebSocket-Version": "13"}, text="WebSocket version 13 only")
    key = headers.get("Sec-WebSocket-Key", "")
    try:
        valid = len(base64.b64decode(key, validate=True)) == 16
    except ValueError:
        valid = False
    if not valid:
        return web.Response(status=400, text="bad Sec-WebSocket-Key")
    return None
