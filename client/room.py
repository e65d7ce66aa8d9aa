"""Room: one joined room as a client sees it.

The room owns its WebSocket: a reader task turns frames into state updates and
callbacks, and a writer task sends what ``send`` queued, in order. Callbacks may
be plain functions or coroutines; coroutines run as tasks, and an exception in
any callback is logged without disturbing the connection.
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import aiohttp

from pyseus import protocol
from pyseus._callbacks import Tasks, fire, remover
from pyseus.protocol import CloseCode, MessageType
from pyseus.schema import Callbacks, Decoder, DecodeError, Reflection, Schema

from .errors import MatchMakeError, RoomLeftError

__all__ = ["Room", "RoomStats"]

log = logging.getLogger("pyseus.client.room")

S = TypeVar("S", bound=Schema)


@dataclass
class RoomStats:
    """Counters of what the room received and sent (frames and bytes)."""
    messages: int = 0
    patches: int = 0
    states: int = 0
    bytes_received: int = 0
    bytes_sent: int = 0


def _key(type: MessageType) -> str:
    # Handlers are keyed like colyseus.js keys them: 5 and "5" are different types.
    return type if isinstance(type, str) else f"#{type}"


class Room(Generic[S]):
    """A joined room. Created by ``Client.join_or_create()`` and its siblings.

    ``state`` is the decoded state (None for rooms without one), ``callbacks``
    its change listeners (``on_add``, ``on_remove``, ``on_change``, ``listen``).
    Every ``on_*`` registration returns a function that removes it.
    """

    def __init__(self, name: str, room_id: str, session_id: str, *, state_cls: type[S] | None = None) -> None:
        self.name = name
        self.room_id = room_id
        self.session_id = session_id
        self.reconnection_token = ""
        self.serializer_id: str | None = None
        self.stats = RoomStats()
        self._state_cls = state_cls
        self._decoder: Decoder[Any] | None = None
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._outbox: asyncio.Queue[bytes | None] = asyncio.Queue()
        self._joined: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._closed: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        # a refusal that arrives after the joiner gave up must not be reported as unretrieved
        self._joined.add_done_callback(lambda f: f.cancelled() or f.exception())
        self._message_handlers: dict[str, list[Callable[..., Any]]] = {}
        self._state_handlers: list[Callable[..., Any]] = []
        self._error_handlers: list[Callable[..., Any]] = []
        self._leave_handlers: list[Callable[..., Any]] = []
        self._state_waiters: list[asyncio.Future[Any]] = []
        self._message_waiters: list[tuple[str, asyncio.Future[Any]]] = []
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
        return self._joined.done() and not self._closed.done()

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
        """``callback(code)`` when the connection closes (4000: a consented leave)."""
        self._leave_handlers.append(callback)
        return remover(self._leave_handlers, callback)

    def send(self, type: MessageType, message: Any = None) -> None:
        """Queue a message (MessagePack; ``None`` sends no payload)."""
        self._queue(protocol.room_data(type, message))

    def send_bytes(self, type: MessageType, data: bytes) -> None:
        """Queue raw bytes (ROOM_DATA_BYTES)."""
        self._queue(protocol.room_data_bytes(type, bytes(data)))

    async def leave(self, consented: bool = True, timeout: float = 5.0) -> int:
        """Leave and return the close code.

        ``consented=True`` asks the server (LEAVE_ROOM) and waits for it to close
        (4000). ``consented=False`` closes the socket at once: the server sees a
        dropped connection and may keep the seat for a reconnection.
        """
        if self._closed.done():
            return self._closed.result()
        if consented and self._ws is not None and not self._ws.closed:
            self._queue(protocol.leave_room())
            try:
                async with asyncio.timeout(timeout):
                    return await asyncio.shield(self._closed)
            except TimeoutError:
                log.warning("room %s: no close after LEAVE_ROOM in %ss; closing", self.room_id, timeout)
        if self._ws is not None:
            await self._ws.close(code=CloseCode.NORMAL_CLOSURE)
        async with asyncio.timeout(timeout):
            return await asyncio.shield(self._closed)

    async def wait_for_next_patch(self, timeout: float = 5.0) -> S:
        """Wait for the next full state or patch; returns the state."""
        return await self._wait(self._state_waiters, None, timeout)  # type: ignore[no-any-return]

    async def wait_for_message(self, type: MessageType, timeout: float = 5.0) -> Any:
        """Wait for the next message of ``type`` and return it (handlers still get it)."""
        return await self._wait(self._message_waiters, _key(type), timeout)

    async def wait_for_leave(self, timeout: float = 5.0) -> int:
        """Wait until the connection closes; returns the close code."""
        async with asyncio.timeout(timeout):
            return await asyncio.shield(self._closed)

    # ---- connection ---------------------------------------------------------------

    async def _connect(self, session: aiohttp.ClientSession, url: str, headers: dict[str, str],
                       timeout: float) -> None:
        """Open the socket and wait for JOIN_ROOM; raises MatchMakeError if refused."""
        try:
            async with asyncio.timeout(timeout):
                self._ws = await session.ws_connect(url, headers=headers, autoping=True, compress=0, max_msg_size=0,
                                                    timeout=aiohttp.ClientWSTimeout(ws_close=timeout))
        except aiohttp.WSServerHandshakeError as e:
            raise MatchMakeError(e.status, e.message) from None
        except (aiohttp.ClientError, OSError) as e:
            raise ConnectionError(f"cannot open {url}: {e}") from e
        self._tasks.spawn(self._read(self._ws), "reading")
        self._tasks.spawn(self._write(self._ws), "writing")
        try:
            async with asyncio.timeout(timeout):
                await self._joined      # awaited directly: the caller resumes before the next frame
        except BaseException:
            await self._ws.close()
            raise

    async def _read(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        code: int | None = None
        reason = ""
        try:
            while True:
                msg = await ws.receive()
                if msg.type == aiohttp.WSMsgType.BINARY:
                    self.stats.bytes_received += len(msg.data)
                    joining = not self._joined.done()
                    self._on_frame(msg.data)
                    if joining and self._joined.done():
                        await asyncio.sleep(0)   # the joiner resumes (and adds handlers) first
                elif msg.type == aiohttp.WSMsgType.CLOSE:
                    code, reason = msg.data, msg.extra or ""
                    break
                elif msg.type in (aiohttp.WSMsgType.CLOSING, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR):
                    break
        except Exception as e:   # a bug in a frame handler must not leave the room half-open
            log.exception("room %s: reading failed", self.room_id)
            reason = str(e)
        finally:
            if code is None:
                code = ws.close_code
            if not code:        # None: the connection dropped; 0: a close frame without a status
                code = CloseCode.ABNORMAL_CLOSURE if code is None else CloseCode.NO_STATUS
            self._on_close(int(code), reason)
            if not ws.closed:
                await ws.close()

    async def _write(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        while True:
            frame = await self._outbox.get()
            if frame is None or ws.closed:
                return
            try:
                await ws.send_bytes(frame)
                self.stats.bytes_sent += len(frame)
            except (ConnectionError, aiohttp.ClientError) as e:
                log.info("room %s: send failed: %s", self.room_id, e)
                return

    def _queue(self, frame: bytes) -> None:
        if self._closed.done():
            log.warning("room %s: not connected; message dropped", self.room_id)
            return
        self._outbox.put_nowait(frame)

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
            self._on_state(frame)
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

    def _on_join_room(self, frame: protocol.JoinRoom) -> None:
        if self._joined.done():
            return
        self.reconnection_token = f"{self.room_id}:{frame.reconnection_token}"
        self.serializer_id = frame.serializer
        if frame.serializer == "schema":
            try:
                root: Any = self._state_cls() if self._state_cls is not None else Reflection.decode(frame.handshake)
            except DecodeError as e:
                self._joined.set_exception(MatchMakeError(0, f"unreadable state handshake: {e}"))
                return
            self._decoder = Decoder(root, strict=False)
        self._queue(protocol.join_ack())
        self._joined.set_result(None)

    def _on_state(self, frame: protocol.RoomState | protocol.RoomPatch) -> None:
        if isinstance(frame, protocol.RoomState):
            self.stats.states += 1
        else:
            self.stats.patches += 1
        if self._decoder is not None:
            try:
                self._decoder.decode(frame.data)
            except DecodeError:
                log.exception("room %s: could not decode the state", self.room_id)
                return
        state = self.state
        for handler in list(self._state_handlers):
            self._call(handler, state)
        waiters, self._state_waiters = self._state_waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(state)

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

    def _on_close(self, code: int, reason: str) -> None:
        if self._closed.done():
            return
        self._closed.set_result(code)
        self._outbox.put_nowait(None)
        if not self._joined.done():
            self._joined.set_exception(MatchMakeError(code, reason or "the connection closed before the join"))
            return
        error = RoomLeftError(code)
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
        fire(callback, *args, tasks=self._tasks, what=f"callback {callback!r}")

    def _callback_failed(self, e: BaseException, what: str) -> None:
        log.error("room %s: %s failed", self.room_id, what, exc_info=(type(e), e, e.__traceback__))
