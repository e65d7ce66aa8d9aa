"""Server: room definitions, matchmaking and the transport, started and stopped together."""
from __future__ import annotations

import asyncio
import json
import logging
import signal
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from . import protocol
from .client import Client, Connection
from .driver import Driver, LocalDriver
from .errors import ServerError
from .matchmaker import Matchmaker, RoomDefinition
from .presence import LocalPresence, Presence
from .protocol import ErrorCode
from .room import Room, _refuse_seat, generate_id

if TYPE_CHECKING:
    from .transport import Transport

__all__ = ["Server", "SocketSession", "event_loop_factory"]

log = logging.getLogger("server")

_MAX_EARLY_FRAMES = 256


def event_loop_factory(loop: str = "auto") -> Callable[[], asyncio.AbstractEventLoop] | None:
    """The event loop to run a server on: ``"asyncio"`` (the standard one, None
    here), ``"uvloop"`` (faster socket I/O; needs ``pip install pyseus[uvloop]``),
    or ``"auto"`` (uvloop when it is installed)."""
    if loop not in ("auto", "asyncio", "uvloop"):
        raise ValueError(f'loop must be "auto", "asyncio" or "uvloop", not {loop!r}')
    if loop == "asyncio":
        return None
    try:
        import uvloop
    except ImportError:
        if loop == "uvloop":
            raise RuntimeError('loop="uvloop" needs the uvloop package (pip install "pyseus[uvloop]")') from None
        return None
    factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    return factory


class SocketSession:
    """One WebSocket between the transport and its room.

    The transport feeds it frames and the close; frames that arrive while the
    client is still being authenticated are held until it has joined, and the
    close is handled after the join finished (so ``on_leave`` follows
    ``on_join``).
    """

    def __init__(self, server: Server, conn: Connection, room_id: str, query: dict[str, str],
                 headers: Mapping[str, str]) -> None:
        self._conn = conn
        self._room: Room[Any] | None = None
        self._client: Client | None = None
        self._early: list[bytes] | None = []
        self._join = asyncio.ensure_future(self._run_join(server, room_id, query, headers))

    async def _run_join(self, server: Server, room_id: str, query: dict[str, str],
                        headers: Mapping[str, str]) -> None:
        room = server.matchmaker.rooms.get(room_id)
        session_id = query.get("sessionId", "")
        if room is None or not session_id:
            _refuse_seat(self._conn)
            self._early = None
            return
        try:
            self._client = await room._connect(self._conn, session_id, query, headers)
        except Exception as e:
            room._report(e, "join")
            self._conn.close(protocol.CloseCode.WITH_ERROR)
        self._room = room
        early, self._early = self._early, None
        if self._client is not None:
            for frame in early or ():
                room._on_frame(self._client, frame)

    def on_frame(self, data: bytes) -> None:
        if self._early is not None:
            if len(self._early) >= _MAX_EARLY_FRAMES:
                self._conn.close(protocol.CloseCode.WITH_ERROR)
                return
            self._early.append(data)
        elif self._client is not None and self._room is not None:
            self._room._on_frame(self._client, data)

    async def on_close(self, code: int | None) -> None:
        await self._join
        if self._client is not None and self._room is not None:
            await self._room._on_close(self._client, code)


class Server:
    """A game server: define room types, then ``listen()`` (or ``await serve()``).

    ``presence`` and ``driver`` default to in-process implementations.
    ``dev_mode`` makes unknown message types an ERROR (4217) instead of a
    disconnect, and shutdowns close clients with 4010. ``max_payload`` caps
    incoming frames (close 1009). Clients are pinged every ``ping_interval``
    seconds and dropped after ``ping_max_retries`` unanswered pings.
    """

    def __init__(self, *, presence: Presence | None = None, driver: Driver | None = None,
                 transport: Transport | None = None, dev_mode: bool = False, public_address: str | None = None,
                 max_payload: int = 4096, ping_interval: float = 3.0, ping_max_retries: int = 2,
                 process_id: str | None = None) -> None:
        self.process_id = process_id or generate_id()
        self.presence = presence or LocalPresence()
        self.driver = driver or LocalDriver()
        self.dev_mode = dev_mode
        self.matchmaker = Matchmaker(self.presence, self.driver, self.process_id,
                                     public_address=public_address, dev_mode=dev_mode)
        if transport is None:
            from .transport import WebSocketTransport
            transport = WebSocketTransport(max_payload=max_payload, ping_interval=ping_interval,
                                           ping_max_retries=ping_max_retries)
        self.transport = transport
        self._shutdown: asyncio.Task[None] | None = None

    def define(self, name: str, room_class: type[Room[Any]], **options: Any) -> RoomDefinition:
        """Make rooms of ``room_class`` available as ``name``; ``options`` override the
        client's options in ``on_create``."""
        return self.matchmaker.define(name, room_class, options)

    @property
    def port(self) -> int | None:
        """The port the transport listens on (useful after serve(port=0))."""
        return self.transport.port

    async def serve(self, host: str = "0.0.0.0", port: int = 2567) -> None:
        """Start listening; returns once the port is open."""
        await self.transport.start(self, host, port)
        log.info("listening on %s:%s (process %s, %s loop)", host, self.transport.port, self.process_id,
                 type(asyncio.get_running_loop()).__module__.split(".")[0])

    def listen(self, port: int = 2567, host: str = "0.0.0.0", *, loop: str = "auto") -> None:
        """Serve until SIGINT or SIGTERM, then shut down gracefully (blocks).

        ``loop``: ``"auto"`` runs on uvloop when it is installed, else on the
        standard asyncio loop; ``"asyncio"`` or ``"uvloop"`` choose explicitly.
        """
        with asyncio.Runner(loop_factory=event_loop_factory(loop)) as runner:
            runner.run(self._run_until_signal(host, port))

    async def _run_until_signal(self, host: str, port: int) -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await self.serve(host, port)
        await stop.wait()
        log.info("shutting down")
        await self.shutdown()

    async def shutdown(self) -> None:
        """Stop matchmaking, disconnect every room (awaiting on_leave and on_dispose), then close."""
        if self._shutdown is None:
            self._shutdown = asyncio.ensure_future(self._do_shutdown())
        await asyncio.shield(self._shutdown)

    async def _do_shutdown(self) -> None:
        await self.matchmaker.shutdown()
        await self.transport.stop()
        await self.presence.shutdown()
        await self.driver.shutdown()

    @property
    def shutting_down(self) -> bool:
        return self.matchmaker.shutting_down

    async def create_room(self, name: str, options: dict[str, Any] | None = None) -> Room[Any]:
        """Create a room of a defined type, as a ``create`` request would, without a seat."""
        definition = self.matchmaker.definitions.get(name)
        if definition is None:
            raise ServerError(ErrorCode.MATCHMAKE_NO_HANDLER, f'provided room name "{name}" not defined')
        return await self.matchmaker.create_room(definition, dict(options or {}))

    async def get_available_rooms(self, name: str | None = None) -> list[dict[str, Any]]:
        """Listings of the public, unlocked rooms (of one type, or all)."""
        return await self.matchmaker.available_rooms(name)

    # ---- called by the transport ------------------------------------------------

    async def matchmake(self, method: str, target: str, body: bytes, authorization: str | None) -> dict[str, Any]:
        """One POST /matchmake/<method>/<target>; returns the JSON body (errors included)."""
        try:
            options = json.loads(body) if body.strip() else {}
        except ValueError as e:
            return {"error": f"invalid JSON body: {e}"}
        token = None
        if authorization and authorization.startswith("Bearer "):
            token = authorization[len("Bearer "):]
        try:
            return await self.matchmaker.handle(method, target, options, token)
        except ServerError as e:
            return {"code": e.code, "error": e.message}
        except Exception as e:
            log.exception("matchmaking %s/%s failed", method, target)
            return {"code": ErrorCode.MATCHMAKE_UNHANDLED.value, "error": str(e)}

    def open_socket(self, conn: Connection, room_id: str, query: dict[str, str],
                    headers: Mapping[str, str]) -> SocketSession:
        return SocketSession(self, conn, room_id, query, headers)
