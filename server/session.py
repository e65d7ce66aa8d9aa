"""One room socket, from its first frame to its close: the join, the ack, the leave.

The transport feeds a ``SocketSession`` the frames and the close of one
WebSocket. The session claims the seat the URL names (a reservation, or a
reconnection), runs ``on_auth`` and ``on_join``, sends JOIN_ROOM, and then
hands the client's frames to the room's engine. Frames that arrive while the
join is still running are held until it finished, and the close is handled
after it (so that ``on_leave`` follows ``on_join``).
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping

from pyseus import protocol
from pyseus._callbacks import invoke
from pyseus.protocol import CloseCode, ErrorCode

from .client import Client, ClientState
from .engine import RoomEngine
from .errors import ServerError
from .room import Room
from .transport import Connection, Request

__all__ = ["SocketSession", "refuse_seat"]

log = logging.getLogger("pyseus.server.session")

_MAX_EARLY_FRAMES = 256


def refuse_seat(conn: Connection) -> None:
    """What the reference does for an unknown room or session, or an expired seat:
    accept the socket, ERROR with code 0, close 4002."""
    conn.send(protocol.error(ErrorCode.SEAT_RESERVATION_EXPIRED, "seat reservation expired."))
    conn.close(CloseCode.WITH_ERROR)


class SocketSession:
    """The join, the frames and the close of one room socket (``SocketHandler``)."""

    def __init__(self, engines: Mapping[str, RoomEngine], conn: Connection, room_id: str, query: dict[str, str],
                 headers: Mapping[str, str]) -> None:
        self._conn = conn
        self._engine: RoomEngine | None = None
        self._client: Client | None = None
        self._early: list[bytes] | None = []
        self._join = asyncio.ensure_future(self._run_join(engines.get(room_id), query, headers))

    async def _run_join(self, engine: RoomEngine | None, query: dict[str, str], headers: Mapping[str, str]) -> None:
        session_id = query.get("sessionId", "")
        if engine is None or not session_id:
            refuse_seat(self._conn)
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
        token = query.get("reconnectionToken")
        if token:
            client = engine.reconnect(conn, session_id, token)
            if client is None:
                refuse_seat(conn)
                return None
            conn.send(protocol.join_room(client.reconnection_token, engine.serializer, engine.handshake))
            return client
        reservation = engine.claim_seat(session_id)
        if reservation is None:
            refuse_seat(conn)
            return None
        client = engine.seat(conn, session_id)
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
                engine.report(e, "on_auth")
                engine.refuse(client, ErrorCode.APPLICATION_ERROR, str(e))
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
                engine.report(e, "on_join")
                code, message = ErrorCode.APPLICATION_ERROR, str(e)
            await engine.leave(client, consented=False)
            if conn.open:
                conn.send(protocol.error(code, message))
                conn.close(CloseCode.WITH_ERROR)
            return None
        conn.send(protocol.join_room(client.reconnection_token, engine.serializer, engine.handshake))
        engine.joined(client)
        return client

    # ---- called by the transport --------------------------------------------------

    def on_frame(self, data: bytes) -> None:
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
            if client.state in (ClientState.JOINING, ClientState.JOINED):
                await engine.leave(client, consented=code == CloseCode.CONSENTED)

    # ---- frames ------------------------------------------------------------------

    def _handle(self, data: bytes) -> None:
        client, engine = self._client, self._engine
        if (client is None or engine is None or client.connection is not self._conn
                or client.state not in (ClientState.JOINING, ClientState.JOINED)):
            return      # not joined, gone, or its seat was taken back by a newer socket
        try:
            frame = protocol.parse_client_frame(data)
        except protocol.ProtocolError as e:
            log.info("room %s: client %s sent a malformed frame (%s)", engine.room_id, client.session_id, e)
            client.leave(CloseCode.WITH_ERROR)
            return
        if isinstance(frame, protocol.JoinAck):
            engine.acknowledge(client)
        elif isinstance(frame, protocol.LeaveRoom):
            engine.tasks.spawn(self._consented_leave(engine, client), "leave")
        elif isinstance(frame, (protocol.RoomData, protocol.RoomDataBytes)):
            engine.dispatch(client, frame)

    async def _consented_leave(self, engine: RoomEngine, client: Client) -> None:
        if client.state not in (ClientState.JOINING, ClientState.JOINED):
            return
        await engine.leave(client, consented=True)
        self._conn.close(CloseCode.CONSENTED)
