"""Room: one joined room as a client sees it.

The room owns its WebSocket: a reader task turns frames into state updates and
callbacks, and a writer task sends what ``send`` queued, in order. Callbacks may
be plain functions or coroutines; coroutines run as tasks, and an exception in
any callback is logged without disturbing the connection.

Like @colyseus/sdk 0.17+, a room whose connection drops (close 1001, 1005,
1006 or 4010, after ``reconnection.min_uptime`` joined) reopens the same
socket with its reconnection token by itself: ``on_drop`` callbacks run, the
messages sent meanwhile are kept (up to ``reconnection.max_enqueued``), and
``on_reconnect`` callbacks run once the server took the seat back. It needs a
0.17+ server (or ours under "auto", "0.17" or "0.18"); after
``reconnection.max_retries`` failed tries the room is left with 4003.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from pyseus import protocol
from pyseus._callbacks import Tasks, fire, remover
from pyseus.protocol import CloseCode, MessageType, ResponseStatus
from pyseus.schema import Callbacks, Decoder, DecodeError, Reflection, Schema

from .connection import WebSocket, open_websocket
from .errors import MatchMakeError, RequestError, RoomLeftError

__all__ = ["Room", "RoomStats", "Reconnection", "DEFAULT_MAX_FRAME_SIZE"]

# The largest frame a room accepts from the server (larger: the socket closes
# with 1009). Far above any real state; a hostile server cannot exhaust memory.
DEFAULT_MAX_FRAME_SIZE = 16 * 1024 * 1024

_PATCH_CODE = bytes((protocol.Protocol.ROOM_STATE_PATCH,))
log = logging.getLogger("pyseus.client.room")

S = TypeVar("S", bound=Schema)

# closes after which the connection is worth reopening (what the 0.17+ SDKs retry)
_DROPS = (CloseCode.GOING_AWAY, CloseCode.NO_STATUS, CloseCode.ABNORMAL_CLOSURE, CloseCode.MAY_TRY_RECONNECT)


@dataclass(slots=True)
class RoomStats:
    """Counters of what the room received and sent (frames and bytes)."""
    messages: int = 0
    patches: int = 0
    states: int = 0
    bytes_received: int = 0
    bytes_sent: int = 0


@dataclass
class Reconnection:
    """How a room reconnects by itself after its connection dropped (``room.reconnection``)."""
    enabled: bool = True
    max_retries: int = 15
    min_delay: float = 0.1          # seconds before the first try, ...
    max_delay: float = 5.0          # ... doubling up to this
    min_uptime: float = 5.0         # a room joined for less than this is left instead
    max_enqueued: int = 10          # messages sent while offline, sent once back (the oldest are dropped)

    def delay(self, attempt: int) -> float:
        return float(min(self.max_delay, max(self.min_delay, 2 ** attempt * 0.1)))


def _key(type: MessageType) -> str:
    # Handlers are keyed like colyseus.js keys them: 5 and "5" are different types.
    return type if isinstance(type, str) else f"#{type}"


def _reconnection_url(url: str, token: str) -> str:
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
             if k not in ("reconnectionToken", "skipHandshake")]
    query += [("reconnectionToken", token), ("skipHandshake", "true")]
    return urlunsplit(parts._replace(query=urlencode(query)))


class Room(Generic[S]):
    """A joined room. Created by ``Client.join_or_create()`` and its siblings.

    ``state`` is the decoded state (None for rooms without one), ``callbacks``
    its change listeners (``on_add``, ``on_remove``, ``on_change``, ``listen``).
    Every ``on_*`` registration returns a function that removes it.
    """

    # Slots: a load generator touches thousands of rooms in turn, and state
    # kept in the object rather than in a dict costs fewer cache misses (its
    # CPU at 1,000 clients fell by a sixth). The dict stays for what an
    # application attaches to a room.
    __slots__ = ("name", "room_id", "session_id", "reconnection_token", "serializer_id", "stats", "reconnection",
                 "decode_state", "max_frame_size", "_state_cls", "_decoder", "_ws", "_socket", "_offline", "_joined",
                 "_closed", "_joined_at", "_rejoined", "_leaving", "_resync", "_message_handlers", "_state_handlers",
                 "_error_handlers", "_leave_handlers", "_drop_handlers", "_reconnect_handlers", "_state_waiters",
                 "_message_waiters", "_requests", "_next_request", "_pings", "_tasks", "__dict__", "__weakref__")

    def __init__(self, name: str, room_id: str, session_id: str, *, state_cls: type[S] | None = None,
                 decode_state: bool = True) -> None:
        self.name = name
        self.room_id = room_id
        self.session_id = session_id
        self.reconnection_token = ""
        self.serializer_id: str | None = None
        self.stats = RoomStats()
        self.reconnection = Reconnection()
        self._state_cls = state_cls
        self.decode_state = decode_state       # False: count state frames, never decode them (load tests)
        self._decoder: Decoder[Any] | None = None
        self._ws: WebSocket | None = None
        # (url, headers, timeout): how to open the socket again
        self._socket: tuple[str, dict[str, str], float] | None = None
        self.max_frame_size = DEFAULT_MAX_FRAME_SIZE
        self._offline: list[bytes] = []          # sent while the connection is down
        self._joined: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._closed: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        # a refusal that arrives after the joiner gave up must not be reported as unretrieved
        self._joined.add_done_callback(lambda f: f.cancelled() or f.exception())
        self._joined_at = 0.0
        self._rejoined: asyncio.Future[None] | None = None      # while a reconnection try waits
        self._leaving = False                    # leave() was called: no reconnection
        self._resync = False                     # the next full state replaces the state
        self._message_handlers: dict[str, list[Callable[..., Any]]] = {}
        self._state_handlers: list[Callable[..., Any]] = []
        self._error_handlers: list[Callable[..., Any]] = []
        self._leave_handlers: list[Callable[..., Any]] = []
        self._drop_handlers: list[Callable[..., Any]] = []
        self._reconnect_handlers: list[Callable[..., Any]] = []
        self._state_waiters: list[asyncio.Future[Any]] = []
        self._message_waiters: list[tuple[str, asyncio.Future[Any]]] = []
        self._requests: dict[int, asyncio.Future[Any]] = {}
        self._next_request = 0
        self._pings: list[tuple[float, asyncio.Future[float]]] = []
        self._tasks = Tasks(self._callback_failed)

    def __repr__(self) -> str:
        return f"<Room {self.name} {self.room_id} session={self.session_id}>"

    # ---- public API ---------------------------------------------------------------

    @property
    def state(self) -> S:
        """The decoded state (None until JOIN_ROOM, and for rooms without state)."""
        return self._decoder.state if self._decoder is not None else None  # type: ignore[return-value]

    @property
    def callbacks(self) -> Callbacks:
        """Change listeners of the decoded state."""
        if self._decoder is None:
            raise RuntimeError("this room has no decoded state")
        return self._decoder.callbacks

    @property
    def connected(self) -> bool:
        """Joined, and the connection is up (False while it reconnects)."""
        return (self._joined.done() and not self._closed.done() and self._rejoined is None
                and self._ws is not None and not self._ws.closed)

    @property
    def close_code(self) -> int | None:
        """The close code once the connection is closed."""
        return self._closed.result() if self._closed.done() else None

    def on_state_change(self, callback: Callable[[S], Any]) -> Callable[[], None]:
        """``callback(state)`` after the full state and after every patch."""
        self._state_handlers.append(callback)
        return remover(self._state_handlers, callback)

    def on_message(self, type: MessageType, callback: Callable[..., Any]) -> Callable[[], None]:
        """``callback(message)`` for messages of ``type``; ``"*"``: ``callback(type, message)``
        for every type without its own handler. Raw-byte messages arrive as ``bytes``."""
        handlers = self._message_handlers.setdefault(_key(type), [])
        handlers.append(callback)
        return remover(handlers, callback)

    def on_error(self, callback: Callable[[int, str], Any]) -> Callable[[], None]:
        """``callback(code, message)`` for ERROR frames after the join."""
        self._error_handlers.append(callback)
        return remover(self._error_handlers, callback)

    def on_leave(self, callback: Callable[[int], Any]) -> Callable[[], None]:
        """``callback(code)`` when the room is left for good (4000: a consented leave)."""
        self._leave_handlers.append(callback)
        return remover(self._leave_handlers, callback)

    def on_drop(self, callback: Callable[[int], Any]) -> Callable[[], None]:
        """``callback(code)`` when the connection dropped and the room reconnects by itself."""
        self._drop_handlers.append(callback)
        return remover(self._drop_handlers, callback)

    def on_reconnect(self, callback: Callable[[], Any]) -> Callable[[], None]:
        """``callback()`` once the room is back after a drop (the full state follows)."""
        self._reconnect_handlers.append(callback)
        return remover(self._reconnect_handlers, callback)

    def send(self, type: MessageType, message: Any = None) -> None:
        """Queue a message (MessagePack; ``None`` sends no payload)."""
        self._queue(protocol.room_data(type, message))

    def send_bytes(self, type: MessageType, data: bytes) -> None:
        """Queue raw bytes (ROOM_DATA_BYTES)."""
        self._queue(protocol.room_data_bytes(type, bytes(data)))

    async def request(self, type: MessageType, message: Any = None, timeout: float = 10.0) -> Any:
        """Send a message and return the server's answer (0.18: the value its handler
        returned). Raises ``RequestError`` when the server rejects it or fails,
        ``RoomLeftError`` when the connection closes first, ``TimeoutError``."""
        if not self.connected:
            raise RoomLeftError(self.close_code or CloseCode.ABNORMAL_CLOSURE)
        request_id = self._next_request
        self._next_request = (self._next_request + 1) & 0xFFFFFFFF
        answer: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._requests[request_id] = answer
        try:
            self._queue(protocol.room_request(request_id, type, message))
            async with asyncio.timeout(timeout):
                return await answer
        finally:
            self._requests.pop(request_id, None)

    async def ping(self, timeout: float = 5.0) -> float:
        """The round trip to the server and back, in milliseconds (0.17+ servers)."""
        if not self.connected:
            raise RoomLeftError(self.close_code or CloseCode.ABNORMAL_CLOSURE)
        pong: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        entry = (time.perf_counter(), pong)
        self._pings.append(entry)
        try:
            self._queue(protocol.ping())
            async with asyncio.timeout(timeout):
                return await pong
        finally:
            if entry in self._pings:
                self._pings.remove(entry)

    async def leave(self, consented: bool = True, timeout: float = 5.0) -> int:
        """Leave and return the close code.

        ``consented=True`` asks the server (LEAVE_ROOM) and waits for it to close
        (4000). ``consented=False`` closes the socket at once: the server sees a
        dropped connection and may keep the seat for a reconnection.
        """
        self._leaving = True
        if self._closed.done():
            return self._closed.result()
        if self._rejoined is not None and not self._rejoined.done():
            self._rejoined.cancel()            # stop reconnecting
        if consented and self._ws is not None and not self._ws.closed:
            self._queue(protocol.leave_room())
            try:
                async with asyncio.timeout(timeout):
                    return await asyncio.shield(self._closed)
            except TimeoutError:
                log.warning("room %s: no close after LEAVE_ROOM in %ss; closing", self.room_id, timeout)
        if self._ws is not None:
            self._ws.close(CloseCode.NORMAL_CLOSURE)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout):
                    await self._ws.wait_closed()
        if self._ws is None or self._rejoined is not None:
            self._on_close(CloseCode.NORMAL_CLOSURE, "left while reconnecting")
        async with asyncio.timeout(timeout):
            return await asyncio.shield(self._closed)

    async def wait_for_next_patch(self, timeout: float = 5.0) -> S:
        """Wait for the next full state or patch; returns the state."""
        return await self._wait(self._state_waiters, None, timeout)  # type: ignore[no-any-return]

    async def wait_for_message(self, type: MessageType, timeout: float = 5.0) -> Any:
        """Wait for the next message of ``type`` and return it (handlers still get it)."""
        return await self._wait(self._message_waiters, _key(type), timeout)

    async def wait_for_leave(self, timeout: float = 5.0) -> int:
        """Wait until the room is left for good; returns the close code."""
        async with asyncio.timeout(timeout):
            return await asyncio.shield(self._closed)

    # ---- connection ---------------------------------------------------------------

    async def _connect(self, url: str, headers: dict[str, str], timeout: float) -> None:
        """Open the socket and wait for JOIN_ROOM; raises MatchMakeError if refused."""
        self._socket = (url, headers, timeout)
        ws = await self._open(url)
        try:
            async with asyncio.timeout(timeout):
                await self._joined      # awaited directly: the caller resumes before the next frame
        except BaseException:
            ws.close()
            raise
        self._joined_at = time.monotonic()

    async def _open(self, url: str) -> WebSocket:
        assert self._socket is not None
        _, headers, timeout = self._socket

        def closed(code: int, reason: str) -> None:
            if ws is self._ws:
                self._connection_lost(code, reason)

        ws = open_websocket(self._on_socket_frame, closed, self.max_frame_size)
        self._ws = ws           # (before the handshake: JOIN_ROOM may come with its answer)
        await ws.open(url, headers, timeout)
        return ws

    def _on_socket_frame(self, data: bytes) -> bool:
        # True: the joiner resumes (and adds its handlers) before the next frame is read
        self.stats.bytes_received += len(data)
        joined = self._joined.done()
        try:
            if joined and data[:1] == _PATCH_CODE:     # (the frame of every tick: no frame object)
                self._on_state(data[1:], full=False)
            else:
                self._on_frame(data)
        except Exception:       # a bug in a frame handler must not leave the room half-open
            log.exception("room %s: reading failed", self.room_id)
            if self._ws is not None:
                self._ws.close(CloseCode.SERVER_ERROR)
            return False
        return not joined and self._joined.done()

    def _queue(self, frame: bytes) -> None:
        if self._closed.done():
            log.warning("room %s: not connected; message dropped", self.room_id)
        elif self._rejoined is not None:
            # offline: kept for the reconnection (the oldest go first when there are too many)
            self._offline.append(frame)
            del self._offline[:-self.reconnection.max_enqueued or len(self._offline)]
        else:
            self._send_now(frame)

    def _send_now(self, frame: bytes) -> None:
        if self._ws is not None and not self._ws.closed:
            self._ws.send(frame)
            self.stats.bytes_sent += len(frame)

    def _connection_lost(self, code: int, reason: str) -> None:
        self._fail_waiting(RoomLeftError(code))
        settings = self.reconnection
        if (self._rejoined is not None or not self._joined.done() or self._closed.done() or self._leaving
                or not settings.enabled or code not in _DROPS
                or time.monotonic() - self._joined_at < settings.min_uptime):
            if self._rejoined is None:
                self._on_close(code, reason)
            return
        self._rejoined = asyncio.get_running_loop().create_future()
        for handler in list(self._drop_handlers):
            self._call(handler, code)
        self._tasks.spawn(self._reconnect(code), "reconnecting")

    async def _reconnect(self, code: int) -> None:
        assert self._socket is not None and self._rejoined is not None
        url = _reconnection_url(self._socket[0], self.reconnection_token.partition(":")[2])
        settings = self.reconnection
        for attempt in range(1, settings.max_retries + 1):
            try:
                await asyncio.sleep(settings.delay(attempt))
                if self._leaving or self._closed.done():
                    return
                self._rejoined = asyncio.get_running_loop().create_future()
                await self._open(url)
                async with asyncio.timeout(self._socket[2]):
                    await asyncio.shield(self._rejoined)
            except asyncio.CancelledError:
                return                                  # leave() while reconnecting
            except (ConnectionError, TimeoutError, MatchMakeError) as e:
                log.info("room %s: reconnection %d failed: %s", self.room_id, attempt, e)
                continue
            except RoomLeftError as e:
                if e.code in _DROPS:
                    continue
                self._rejoined = None
                self._on_close(e.code, "reconnection refused")     # (4003: the seat is gone)
                return
            self._rejoined = None
            self._joined_at = time.monotonic()
            offline, self._offline = self._offline, []
            for frame in offline:
                self._send_now(frame)
            for handler in list(self._reconnect_handlers):
                self._call(handler)
            return
        self._rejoined = None
        self._on_close(CloseCode.FAILED_TO_RECONNECT, "no more retries")

    # ---- frames ---------------------------------------------------------------------

    def _on_frame(self, data: bytes) -> None:
        try:
            frame = protocol.parse_server_frame(data)
        except protocol.ProtocolError as e:
            log.warning("room %s: %s", self.room_id, e)
            return
        if isinstance(frame, protocol.JoinRoom):
            self._on_join_room(frame)
        elif isinstance(frame, protocol.ErrorMessage):
            if not self._joined.done():
                self._joined.set_exception(MatchMakeError(frame.code, frame.message))
            else:
                for handler in list(self._error_handlers):
                    self._call(handler, frame.code, frame.message)
        elif isinstance(frame, (protocol.RoomState, protocol.RoomPatch)):
            self._on_state(frame.data, full=isinstance(frame, protocol.RoomState))
        elif isinstance(frame, protocol.RoomData):
            self.stats.messages += 1
            try:
                message = frame.message()
            except protocol.ProtocolError as e:
                log.warning("room %s: %s", self.room_id, e)
                return
            self._dispatch(frame.type, message)
        elif isinstance(frame, protocol.RoomDataBytes):
            self.stats.messages += 1
            self._dispatch(frame.type, frame.data)
        elif isinstance(frame, protocol.RoomResponse):
            self._on_response(frame)
        elif isinstance(frame, protocol.Ping):
            if self._pings:
                start, pong = self._pings.pop(0)
                if not pong.done():
                    pong.set_result((time.perf_counter() - start) * 1000)

    def _on_join_room(self, frame: protocol.JoinRoom) -> None:
        if self._rejoined is not None:          # back after a drop: the full state follows
            self.reconnection_token = f"{self.room_id}:{frame.reconnection_token}"
            self._resync = self._decoder is not None
            self._queue_now(protocol.join_ack())
            if not self._rejoined.done():
                self._rejoined.set_result(None)
            return
        if self._joined.done():
            return
        self.reconnection_token = f"{self.room_id}:{frame.reconnection_token}"
        self.serializer_id = frame.serializer
        if frame.serializer == "schema" and self.decode_state:
            try:
                root: Any = self._state_cls() if self._state_cls is not None else Reflection.decode(frame.handshake)
            except DecodeError as e:
                self._joined.set_exception(MatchMakeError(0, f"unreadable state handshake: {e}"))
                return
            self._decoder = Decoder(root, strict=False)
        self._queue(protocol.join_ack())
        self._joined.set_result(None)

    def _queue_now(self, frame: bytes) -> None:
        self._send_now(frame)          # (ahead of what waits for the reconnection)

    def _on_state(self, data: bytes, full: bool) -> None:
        if full:
            self.stats.states += 1
        else:
            self.stats.patches += 1
        decoder = self._decoder
        if decoder is not None:
            if self._resync and full:
                self._resync = False
                root: Any = type(decoder.state)
                decoder.reset(root.__new__(root))
            try:
                decoder.decode(data)
            except DecodeError:
                log.exception("room %s: could not decode the state", self.room_id)
                return
        state = decoder.state if decoder is not None else None
        for handler in tuple(self._state_handlers):
            # (a fixed name, not _call's: this runs for every patch; the traceback names the callback)
            fire(handler, (state,), self._tasks, "state change callback")
        if self._state_waiters:
            waiters, self._state_waiters = self._state_waiters, []
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_result(state)

    def _on_response(self, frame: protocol.RoomResponse) -> None:
        answer = self._requests.pop(frame.request_id, None)
        if answer is None or answer.done():
            return          # timed out, or not ours
        try:
            payload = frame.message()
        except protocol.ProtocolError as e:
            answer.set_exception(RequestError(ResponseStatus.ERROR, "ProtocolError", str(e)))
            return
        if frame.status == ResponseStatus.OK:
            answer.set_result(payload)
        elif frame.status == ResponseStatus.REJECTED:
            answer.set_exception(RequestError(frame.status, "rejected", "request rejected", reason=payload))
        else:
            fields = payload if isinstance(payload, dict) else {}
            answer.set_exception(RequestError(frame.status, str(fields.get("name", "Error")),
                                              str(fields.get("message", "request failed")), fields.get("code")))

    def _dispatch(self, type: MessageType, message: Any) -> None:
        key = _key(type)
        waited = False
        for entry in list(self._message_waiters):
            if entry[0] == key:
                self._message_waiters.remove(entry)
                if not entry[1].done():
                    entry[1].set_result(message)
                    waited = True
        handlers = self._message_handlers.get(key)
        if handlers:
            for handler in list(handlers):
                self._call(handler, message)
        elif self._message_handlers.get("*"):
            for handler in list(self._message_handlers["*"]):
                self._call(handler, type, message)
        elif not waited:
            log.warning("room %s: no on_message() handler for type %r", self.room_id, type)

    def _fail_waiting(self, error: RoomLeftError) -> None:
        # what the lost connection can no longer answer: requests and pings
        for answer in self._requests.values():
            if not answer.done():
                answer.set_exception(error)
        self._requests.clear()
        for _, pong in self._pings:
            if not pong.done():
                pong.set_exception(error)
        self._pings.clear()
        if self._rejoined is not None and not self._rejoined.done():
            self._rejoined.set_exception(error)

    def _on_close(self, code: int, reason: str) -> None:
        if self._closed.done():
            return
        self._closed.set_result(code)
        if not self._joined.done():
            self._joined.set_exception(MatchMakeError(code, reason or "the connection closed before the join"))
            return
        error = RoomLeftError(code)
        self._fail_waiting(error)
        for waiter in [w for w in self._state_waiters] + [w for _, w in self._message_waiters]:
            if not waiter.done():
                waiter.set_exception(error)
        self._state_waiters.clear()
        self._message_waiters.clear()
        for handler in list(self._leave_handlers):
            self._call(handler, code)

    # ---- helpers --------------------------------------------------------------------

    async def _wait(self, table: list[Any], key: str | None, timeout: float) -> Any:
        if self._closed.done():
            raise RoomLeftError(self._closed.result())
        waiter: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        entry: Any = waiter if key is None else (key, waiter)
        table.append(entry)
        try:
            async with asyncio.timeout(timeout):
                return await waiter
        finally:
            if entry in table:
                table.remove(entry)

    def _call(self, callback: Callable[..., Any], *args: Any) -> None:
        fire(callback, args, self._tasks, lambda: f"callback {callback!r}")

    def _callback_failed(self, e: BaseException, what: str) -> None:
        log.error("room %s: %s failed", self.room_id, what, exc_info=(type(e), e, e.__traceback__))
