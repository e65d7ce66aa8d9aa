"""Server: room definitions, matchmaking and the transport, started and stopped together."""
from __future__ import annotations

import asyncio
import logging
import os
import signal
import threading
from collections.abc import Mapping, Sequence
from typing import Any

from aiohttp import web

from pyseus.loop import event_loop_factory
from pyseus.protocol import ErrorCode, ProtocolError, error_body, generations, new_id, parse_options

from .cors import CorsPolicy
from .driver import Driver, LocalDriver
from .errors import ServerError
from .limits import Limits
from .matchmaker import Matchmaker, RoomDefinition
from .monitor import MonitorAuth, install_monitor
from .playground import install_playground
from .presence import LocalPresence, Presence
from .room import Room
from .session import LatencyProbe, SocketSession
from .transport import Connection, SocketHandler, Transport
from .transport_aiohttp import WebSocketTransport

__all__ = ["Server"]

log = logging.getLogger("pyseus.server")

_SIGNALS = (signal.SIGINT, signal.SIGTERM)
# (a graceful shutdown before a restart, as nodemon and `pyseus serve --reload` send)
_RESTART = signal.SIGUSR2
_WATCHDOG_GRACE = 5.0       # after the shutdown deadline, before a blocked process is ended


def _exit_now(sig: signal.Signals) -> None:
    log.warning("%s again: exiting now", sig.name)
    logging.shutdown()
    os._exit(128 + sig)


def _exit_blocked() -> None:
    # runs in the watchdog thread: the event loop did not finish the shutdown
    log.error("shutdown: still blocked %s s after its deadline (a hook that never yields?); exiting now",
              _WATCHDOG_GRACE)
    logging.shutdown()
    os._exit(1)


class Server:
    """A game server: define room types, then ``listen()`` (or ``await serve()``).

    ``protocol``: the client generations served on the one endpoint: ``"auto"``
    (colyseus.js 0.16 and @colyseus/sdk 0.17 and 0.18, in the same rooms), or
    exactly one of ``"0.16"``, ``"0.17"``, ``"0.18"``.
    ``presence`` and ``driver`` default to in-process implementations.
    ``dev_mode`` makes unknown message types an ERROR (4217) instead of a
    disconnect, shutdowns close clients with 4010, clients get the text of the
    exceptions raised by room code (else "internal error"), and any web page
    may call matchmaking with credentials. ``max_payload`` caps incoming
    frames (close 1009). Clients are pinged every ``ping_interval`` seconds
    and dropped after ``ping_max_retries`` unanswered pings.

    ``limits`` bound what each client may cost the others (``Limits``; the
    table is in SECURITY.md). ``trusted_proxies`` (addresses or networks) are
    the reverse proxies whose ``X-Forwarded-For`` names the client.
    ``cors_origins`` lists the web pages allowed to call matchmaking with
    credentials (see ``pyseus.server.cors``), and ``check_origin`` applies that
    list to room sockets opened by browsers.

    ``monitor`` serves the monitor at ``/monitor`` (``pyseus.server.monitor``):
    behind HTTP Basic authentication with ``monitor_password``, or your own
    ``monitor_auth(request) -> bool``. ``playground`` serves the playground
    at ``/playground`` (``pyseus.server.playground``): join rooms from a
    browser and watch their state, messages and patches.
    """

    def __init__(self, *, protocol: str = "auto", presence: Presence | None = None, driver: Driver | None = None,
                 transport: Transport | None = None, dev_mode: bool = False, public_address: str | None = None,
                 max_payload: int = 4096, ping_interval: float = 3.0, ping_max_retries: int = 2,
                 process_id: str | None = None, limits: Limits | None = None,
                 trusted_proxies: Sequence[str] = (), cors_origins: Sequence[str] | None = None,
                 check_origin: bool = False, monitor: bool = False, monitor_password: str | None = None,
                 monitor_auth: MonitorAuth | None = None, playground: bool = False) -> None:
        self.protocol = generations.check_profile(protocol)
        self.process_id = process_id or new_id()
        self.public_address = public_address
        self.presence = presence or LocalPresence()
        self.driver = driver or LocalDriver()
        self.dev_mode = dev_mode
        self.limits = limits or Limits()
        if max_payload > self.limits.byte_burst:
            raise ValueError(f"max_payload ({max_payload}) is above Limits.byte_burst ({self.limits.byte_burst}): "
                             "no frame that size could ever be accepted")
        self.matchmaker = Matchmaker(self.presence, self.driver, self.process_id, profile=self.protocol,
                                     public_address=public_address, dev_mode=dev_mode, limits=self.limits)
        if transport is None:
            cors = CorsPolicy(cors_origins, permissive=dev_mode, check_origin=check_origin, profile=self.protocol)
            transport = WebSocketTransport(max_payload=max_payload, ping_interval=ping_interval,
                                           ping_max_retries=ping_max_retries, limits=self.limits,
                                           trusted_proxies=trusted_proxies, cors=cors)
        self.transport = transport
        self._shutdown: asyncio.Future[None] | None = None
        self._monitor = False
        if monitor or monitor_password is not None or monitor_auth is not None:
            self.enable_monitor(password=monitor_password, auth=monitor_auth)
        self._playground = False
        if playground:
            self.enable_playground()

    @property
    def app(self) -> web.Application:
        """The aiohttp application that serves matchmaking and rooms: add routes and
        static folders to it before the server starts, e.g.
        ``server.app.router.add_get("/health", handler)`` or
        ``server.app.router.add_static("/static/", "public/")``. Matchmaking
        (``/matchmake/...``) and room sockets take every path left."""
        app = getattr(self.transport, "app", None)
        if not isinstance(app, web.Application):
            raise TypeError(f"{type(self.transport).__name__} has no aiohttp application")
        return app

    def enable_monitor(self, *, password: str | None = None, auth: MonitorAuth | None = None) -> None:
        """Serve the monitor at ``/monitor`` (once; see ``pyseus.server.monitor``)."""
        if not self._monitor:
            self._monitor = True
            install_monitor(self.app, self.matchmaker, password=password, auth=auth)

    def enable_playground(self) -> None:
        """Serve the playground at ``/playground`` (once; see ``pyseus.server.playground``)."""
        if not self._playground:
            self._playground = True
            install_playground(self.app, self.matchmaker)

    def define(self, name: str, room_class: type[Room[Any]], **options: Any) -> RoomDefinition:
        """Make rooms of ``room_class`` available as ``name``; ``options`` override the
        client's options in ``on_create``."""
        return self.matchmaker.define(name, room_class, options)

    @property
    def port(self) -> int | None:
        """The port the transport listens on (useful after serve(port=0))."""
        return self.transport.port

    async def serve(self, host: str = "0.0.0.0", port: int = 2567) -> None:
        """Start listening; returns once the port is open.

        With a port given, the process joins the others sharing its presence
        first, so that it is known to them by the time clients can reach it
        (with port 0 the address is known only once listening).
        """
        if port:
            await self.matchmaker.start(self.public_address or f"{host}:{port}")
            try:
                await self.transport.start(self, host, port)
            except BaseException:
                await self.matchmaker.leave()
                raise
        else:
            await self.transport.start(self, host, port)
            await self.matchmaker.start(self.public_address or f"{host}:{self.transport.port}")
        log.info("listening on %s:%s (process %s, %s loop, protocol %s)", host, self.transport.port,
                 self.process_id, type(asyncio.get_running_loop()).__module__.split(".")[0], self.protocol)

    def listen(self, port: int = 2567, host: str = "0.0.0.0", *, loop: str = "auto") -> None:
        """Serve until SIGINT or SIGTERM, then shut down gracefully (blocks). SIGUSR2
        (what nodemon and ``pyseus serve --reload`` send) does the same before a
        restart: rooms close their clients with 4010, and clients reconnect.

        A second SIGINT or SIGTERM during the shutdown exits at once (status
        128 + the signal's number); so does a shutdown still blocked a few
        seconds after its deadline (``Limits.shutdown_timeout``), status 1.

        ``loop``: ``"auto"`` runs on uvloop when it is installed, else on the
        standard asyncio loop; ``"asyncio"`` or ``"uvloop"`` choose explicitly.
        """
        with asyncio.Runner(loop_factory=event_loop_factory(loop)) as runner:
            runner.run(self._run_until_signal(host, port))

    async def _run_until_signal(self, host: str, port: int) -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()

        def first(sig: signal.Signals) -> None:
            if stop.is_set():
                _exit_now(sig)      # (two signals before the loop ran the first's callback)
            log.info("%s: shutting down%s (a second signal exits at once)", sig.name,
                     " to restart" if sig == _RESTART else "")
            self.matchmaker.restarting = sig == _RESTART
            stop.set()
            for s in (*_SIGNALS, _RESTART):
                loop.add_signal_handler(s, _exit_now, s)

        for sig in (*_SIGNALS, _RESTART):
            loop.add_signal_handler(sig, first, sig)
        await self.serve(host, port)
        await stop.wait()
        # the last resort when the loop itself is blocked (a hook that never yields)
        watchdog = threading.Timer(self.limits.shutdown_timeout + _WATCHDOG_GRACE, _exit_blocked)
        watchdog.daemon = True
        watchdog.start()
        try:
            await self.shutdown()
        finally:
            watchdog.cancel()

    async def shutdown(self) -> None:
        """Stop matchmaking, disconnect every room (awaiting on_leave and on_dispose), then close.

        The rooms get ``Limits.shutdown_timeout`` seconds; past it, what they still
        run is logged and cancelled, and the shutdown goes on without them.
        """
        if self._shutdown is None:
            self._shutdown = asyncio.ensure_future(self._do_shutdown())
        await asyncio.shield(self._shutdown)

    async def _do_shutdown(self) -> None:
        rooms = asyncio.ensure_future(self.matchmaker.shutdown())
        done, _ = await asyncio.wait({rooms}, timeout=self.limits.shutdown_timeout)
        if not done:
            log.error("shutdown: the rooms did not finish within %s s (limit shutdown_timeout); going on "
                      "without them. Still running: %s", self.limits.shutdown_timeout,
                      "; ".join(self.matchmaker.unfinished()) or "nothing (the driver's cleanup)")
            rooms.cancel()
            self.matchmaker.abandon_rooms()
        elif rooms.exception() is not None:
            log.error("shutdown: stopping the rooms failed", exc_info=rooms.exception())
        await self.matchmaker.leave()
        await self.transport.stop()
        await self.presence.shutdown()
        await self.driver.shutdown()

    @property
    def shutting_down(self) -> bool:
        return self.matchmaker.shutting_down

    @property
    def profile(self) -> str:
        return self.protocol

    async def create_room(self, name: str, options: dict[str, Any] | None = None) -> Room[Any]:
        """Create a room of a defined type, as a ``create`` request would, without a seat."""
        definition = self.matchmaker.definitions.get(name)
        if definition is None:
            raise ServerError(ErrorCode.MATCHMAKE_NO_HANDLER, f'provided room name "{name}" not defined')
        return (await self.matchmaker.create_room(definition, dict(options or {}))).room

    async def get_available_rooms(self, name: str | None = None) -> list[dict[str, Any]]:
        """Listings of the public, unlocked rooms (of one type, or all)."""
        return await self.matchmaker.available_rooms(name)

    # ---- TransportHost (called by the transport) ------------------------------------

    async def matchmake(self, method: str, target: str, body: bytes,
                        headers: Mapping[str, str]) -> tuple[int, dict[str, Any]]:
        """One POST /matchmake/<method>/<target>: the HTTP status and the JSON body.

        A failure answers ``{code, error}``: with status 200 and the 0.16 code under
        protocol "0.16", else with the 0.17 code as the status as well.
        """
        try:
            options = parse_options(body, self.limits.max_json_depth)
        except ProtocolError as e:
            # (the reference answers a body it cannot parse with an error and no code)
            return (200 if generations.legacy(self.protocol) else 400), {"error": str(e)}
        authorization = headers.get("Authorization", "")
        token = authorization[len("Bearer "):] if authorization.startswith("Bearer ") else None
        try:
            return 200, await self.matchmaker.handle(method, target, options, token)
        except ServerError as e:
            code, message = e.code, e.message
        except Exception as e:
            log.exception("matchmaking %s/%s failed", method, target)
            code, message = ErrorCode.MATCHMAKE_UNHANDLED, str(e) if self.dev_mode else "internal error"
        return (generations.http_status(code, self.protocol),
                error_body(generations.wire_error_code(code, self.protocol), message))

    def open_socket(self, conn: Connection, room_id: str, query: dict[str, str],
                    headers: Mapping[str, str]) -> SocketHandler:
        if not room_id and "sessionId" not in query and not generations.legacy(self.protocol):
            return LatencyProbe(conn)          # client.getLatency() of 0.17+
        return SocketSession(self.matchmaker.engines, self.protocol, conn, room_id, query, headers)
