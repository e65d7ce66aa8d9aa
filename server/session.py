"""One room socket, from its first frame to its close: the join, the ack, the leave.

The transport feeds a ``SocketSession`` the frames and the close of one
WebSocket. The session claims the seat the URL names (a reservation, or a
reconnection), runs ``on_auth`` and ``on_join`` (or ``on_reconnect``), sends
JOIN_ROOM, and then hands the client's frames to the room's engine. Frames
that arrive while the join is still running are held until it finished, and
the close is handled after it (so that ``on_leave`` follows ``on_join``).

A ``LatencyProbe`` answers the sockets of ``client.getLatency()`` (0.17+),
which name no room.
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping

from pyseus import protocol
from pyseus._callbacks import invoke
from pyseus.protocol import CloseCode, ErrorCode, generations

from .client import IN_ROOM, Client
from .engine import RoomEngine, refuse_connection
from .errors import ServerError
from .room import Room
from .transport import Connection, Request

__all__ = ["SocketSession", "LatencyProbe"]

log = logging.getLogger("pyseus.server.session")

_MAX_EARLY_FRAMES = 256
_LATENCY_PROBE_SECONDS = 1.0


class SocketSession:
    """The join, the frames and the close of one room socket (``SocketHandler``)."""

    # (slots: see _Connection in transport_aiohttp)
    __slots__ = ("_client", "_conn", "_early", "_engine", "_join", "_meter", "_profile", "_reconnecting",
                 "_target")

    def __init__(self, engines: Mapping[str, RoomEngine], profile: str, conn: Connection, room_id: str,
                 query: dict[str, str], headers: Mapping[str, str]) -> None:
        self._conn = conn
        self._profile = profile
        self._reconnecting = bool(query.get("reconnectionToken"))
        self._engine: RoomEngine | None = None
        self._client: Client | None = None
        self._early: list[bytes] | None = []
        self._target = engines.get(room_id)
        self._meter = self._target.frame_meter() if self._target is not None else None
        self._join = asyncio.ensure_future(self._run_join(self._target, query, headers))

    def _refuse_seat(self, engine: RoomEngine | None) -> None:
        # an unknown room or session, an expired seat or a failed reconnection: the
        # socket is accepted, then ERROR (0 in 0.16, 524 in 0.17+) and the close
        refuse_connection(self._conn, self._profile, ErrorCode.SEAT_RESERVATION_EXPIRED, "seat reservation expired.",
                          engine.dev_mode if engine is not None else False, self._reconnecting)

    async def _run_join(self, engine: RoomEngine | None, query: dict[str, str], headers: Mapping[str, str]) -> None:
        session_id = query.get("sessionId", "")
        if engine is None or not session_id:
            self._refuse_seat(engine)
            self._early = None
            return
        try:
            self._client = await self._admit(engine, session_id, query, headers)
        except Exception as e:
            engine.report(e, "join")
            self._conn.close(CloseCode.WITH_ERROR)
        self._engine = engine
        early, self._early = self._early, None
        for frame in early or ():
            self._handle(frame)

    async def _admit(self, engine: RoomEngine, session_id: str, query: dict[str, str],
                     headers: Mapping[str, str]) -> Client | None:
        conn = self._conn
        skip_handshake = "skipHandshake" in query and not generations.legacy(self._profile)
        token = query.get("reconnectionToken")
        if token:
            return await self._readmit(engine, session_id, token, skip_handshake)
        reservation = engine.claim_seat(session_id)
        if reservation is None:
            self._refuse_seat(engine)
            return None
        client = engine.seat(conn, reservation)
        room = engine.room
        if type(room).on_auth is not Room.on_auth:
            request = Request(token=query.get("_authToken") or reservation.token, headers=headers,
                              query=dict(query), remote_address=conn.remote_address)
            try:
                auth = await invoke(room.on_auth, client, reservation.options, request, trim=True)
            except ServerError as e:
                engine.refuse(client, e.code, e.message)
                return None
            except Exception as e:
                engine.report(e, "on_auth", client)
                engine.refuse(client, ErrorCode.APPLICATION_ERROR, engine.public_text(e))
                return None
            if not auth:
                engine.refuse(client, ErrorCode.AUTH_FAILED, "onAuth failed")
                return None
            client.auth = auth
        if not conn.open:
            engine.refuse(client, None, "")   # gone while authenticating
            return None
        try:
            await invoke(room.on_join, client, reservation.options, client.auth, trim=True)
        except Exception as e:
            if isinstance(e, ServerError):
                code, message = e.code, e.message
            else:
                engine.report(e, "on_join", client)
                code, message = ErrorCode.APPLICATION_ERROR, engine.public_text(e)
            await engine.leave(client, None, consented=False, drop=False)
            if conn.open:
                refuse_connection(conn, self._profile, code, message, engine.dev_mode)
            return None
        conn.send(engine.join_frame(client, skip_handshake))
        engine.joined(client)
        return client

    async def _readmit(self, engine: RoomEngine, session_id: str, token: str, skip_handshake: bool) -> Client | None:
        # a dropped client takes its seat back; on_reconnect may still refuse it
        client = await engine.reconnect(self._conn, session_id, token)
        if client is None:
            self._refuse_seat(engine)
            return None
        room = engine.room
        if type(room).on_reconnect is not Room.on_reconnect:
            try:
                await invoke(room.on_reconnect, client)
                if not self._conn.open:
                    raise ConnectionError("the socket closed during on_reconnect")
            except Exception as e:
                if not isinstance(e, (ServerError, ConnectionError)):
                    engine.report(e, "on_reconnect", client)
                code = e.code if isinstance(e, ServerError) else ErrorCode.MATCHMAKE_EXPIRED
                await engine.leave(client, CloseCode.FAILED_TO_RECONNECT, consented=False, drop=False)
                if self._conn.open:
                    refuse_connection(self._conn, self._profile, code,
                                      e.message if isinstance(e, ServerError) else "reconnection refused",
                                      engine.dev_mode, reconnecting=True)
                return None
        self._conn.send(engine.join_frame(client, skip_handshake))
        engine.expect_ack(client)
        return client

    # ---- called by the transport --------------------------------------------------

    def on_frame(self, data: bytes) -> None:
        if not self._conn.open:
            return      # closing: what a client sends now is not read
        if self._meter is not None and not self._meter.allow(len(data)):
            self._over_rate()
            return
        if self._early is not None:
            if len(self._early) >= _MAX_EARLY_FRAMES:
                self._conn.close(CloseCode.WITH_ERROR)
                return
            self._early.append(data)
        else:
            self._handle(data)

    async def on_close(self, code: int | None) -> None:
        await self._join
        client, engine = self._client, self._engine
        if client is not None and engine is not None and client.connection is self._conn:
            if client.state in IN_ROOM:
                await engine.leave(client, code)

    # ---- frames ------------------------------------------------------------------

    def _handle(self, data: bytes) -> None:
        client, engine = self._client, self._engine
        if (client is None or engine is None or client.connection is not self._conn
                or client.state not in IN_ROOM):
            return      # not joined, gone, or its seat was taken back by a newer socket
        try:
            frame = protocol.parse_client_frame(data)
        except protocol.ProtocolError as e:
            log.info("room %s: client %s sent a malformed frame (%s)", engine.room_id, client.session_id, e)
            client.leave(CloseCode.WITH_ERROR)
            return
        if isinstance(frame, (protocol.RoomData, protocol.RoomDataBytes)):      # (the usual, first)
            engine.dispatch(client, frame)
        elif isinstance(frame, protocol.JoinAck):
            engine.acknowledge(client)
        elif isinstance(frame, protocol.LeaveRoom):
            engine.tasks.spawn(self._consented_leave(engine, client), "leave")
        elif isinstance(frame, protocol.RoomRequest):
            engine.answer(client, frame)
        elif isinstance(frame, protocol.Ping):
            engine.ping(client)

    def _over_rate(self) -> None:
        engine = self._target
        assert engine is not None           # (only sockets to a room have a meter)
        who = self._client.session_id if self._client is not None else self._conn.remote_address
        messages, nbytes = engine.rates()
        log.warning("room %s (%s): %s sent more than %s messages or %s bytes per second allow (limits "
                    "messages_per_second, bytes_per_second); closing it", engine.room_id, engine.room_name, who,
                    messages, nbytes)
        self._conn.cut(CloseCode.WITH_ERROR, "too many messages")

    async def _consented_leave(self, engine: RoomEngine, client: Client) -> None:
        if client.state not in IN_ROOM:
            return
        await engine.leave(client, CloseCode.CONSENTED)
        self._conn.close(CloseCode.CONSENTED)


class LatencyProbe:
    """The socket of ``client.getLatency()`` (0.17+): every frame is answered with a
    PING byte, and the socket is closed after a second."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self._timer = asyncio.get_running_loop().call_later(_LATENCY_PROBE_SECONDS, conn.close,
                                                            CloseCode.NORMAL_CLOSURE)

    def on_frame(self, data: bytes) -> None:
        self._conn.send(protocol.ping())

    async def on_close(self, code: int | None) -> None:
        self._timer.cancel()
