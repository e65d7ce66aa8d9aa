"""Client: matchmaking over HTTP, then a WebSocket per joined room."""
from __future__ import annotations

import asyncio
import json
import logging
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import aiohttp

from pyseus.protocol import ProtocolError, SeatReservation

from .errors import MatchMakeError
from .room import DEFAULT_MAX_FRAME_SIZE, Room

__all__ = ["Client"]

log = logging.getLogger("pyseus.client")

_SCHEMES = {"http": "ws", "https": "wss", "ws": "ws", "wss": "wss"}


class Client:
    """A connection to a Colyseus-compatible server (ours, or Node's).

    ``endpoint`` is the server's URL (``http``, ``https``, ``ws`` or ``wss``; a
    path prefix and a query string are kept). ``headers`` go out with every
    request. ``auth_token`` is sent as ``Authorization: Bearer`` to matchmaking
    and as ``_authToken`` on the room's WebSocket URL. ``max_frame_size`` bounds
    a frame from a room (larger: the room closes with 1009) and a matchmaking
    answer (larger: ``MatchMakeError``). ``decode_state=False`` counts state
    frames without decoding them (``room.state`` stays None): what a load
    generator needs to hold many clients.
    """

    def __init__(self, endpoint: str = "http://127.0.0.1:2567", *, headers: dict[str, str] | None = None,
                 auth_token: str | None = None, timeout: float = 10.0,
                 max_frame_size: int = DEFAULT_MAX_FRAME_SIZE, decode_state: bool = True) -> None:
        parts = urlsplit(endpoint if "://" in endpoint else f"http://{endpoint}")
        if parts.scheme not in _SCHEMES:
            raise ValueError(f"unsupported endpoint scheme {parts.scheme!r}")
        secure = parts.scheme in ("https", "wss")
        path = parts.path.rstrip("/")
        self.endpoint = endpoint
        self.headers = dict(headers or {})
        self.auth_token = auth_token
        self.timeout = timeout
        self.max_frame_size = max_frame_size
        self.decode_state = decode_state
        self._http_base = urlunsplit(("https" if secure else "http", parts.netloc, path, "", ""))
        self._ws_scheme = "wss" if secure else "ws"
        self._ws_base = f"{self._ws_scheme}://{parts.netloc}{path}"
        self._query = parts.query
        self._session: aiohttp.ClientSession | None = None
        self._rooms: set[Room[Any]] = set()

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # ---- matchmaking ----------------------------------------------------------------

    async def join_or_create(self, name: str, options: dict[str, Any] | None = None, *,
                             state_cls: type[Any] | None = None) -> Room[Any]:
        """Join a room of this type that has a free seat, or create one."""
        return await self._matchmake("joinOrCreate", name, options, state_cls)

    async def create(self, name: str, options: dict[str, Any] | None = None, *,
                     state_cls: type[Any] | None = None) -> Room[Any]:
        """Create a new room of this type and join it."""
        return await self._matchmake("create", name, options, state_cls)

    async def join(self, name: str, options: dict[str, Any] | None = None, *,
                   state_cls: type[Any] | None = None) -> Room[Any]:
        """Join an existing room of this type (MatchMakeError 4211 when there is none)."""
        return await self._matchmake("join", name, options, state_cls)

    async def join_by_id(self, room_id: str, options: dict[str, Any] | None = None, *,
                         state_cls: type[Any] | None = None) -> Room[Any]:
        """Join the room with this id (private rooms included)."""
        return await self._matchmake("joinById", room_id, options, state_cls)

    async def reconnect(self, reconnection_token: str, *, state_cls: type[Any] | None = None) -> Room[Any]:
        """Take back a seat after a dropped connection: ``reconnection_token`` is
        ``room.reconnection_token`` of the lost room (``"<roomId>:<token>"``)."""
        room_id, sep, token = reconnection_token.partition(":")
        if not sep or not room_id or not token:
            raise ValueError('a reconnection token looks like "<roomId>:<token>"')
        answer = await self._request("reconnect", room_id, {"reconnectionToken": token})
        answer["reconnectionToken"] = token
        return await self.consume_seat_reservation(answer, state_cls=state_cls)

    async def get_available_rooms(self, name: str = "") -> list[dict[str, Any]]:
        """The listings of the public, unlocked rooms of this type (``GET /matchmake/<name>``)."""
        url = f"{self._http_base}/matchmake/{quote(name, safe='')}"
        data = await self._call("GET", url)
        if not isinstance(data, list):
            raise MatchMakeError(0, f"unexpected answer from {url}: {data!r:.200}")
        return data

    async def consume_seat_reservation(self, reservation: dict[str, Any] | SeatReservation, *,
                                       state_cls: type[Any] | None = None) -> Room[Any]:
        """Open the WebSocket of a seat reservation (a matchmaking answer) and join."""
        try:
            seat = reservation if isinstance(reservation, SeatReservation) else SeatReservation.from_json(reservation)
        except ProtocolError as e:
            raise MatchMakeError(0, str(e)) from None
        room: Room[Any] = Room(seat.name, seat.room_id, seat.session_id, state_cls=state_cls,
                               decode_state=self.decode_state)
        room.max_frame_size = self.max_frame_size
        await room._connect(self._ws_url(seat), self._socket_headers(), self.timeout)
        self._rooms.add(room)
        room.on_leave(lambda code: self._rooms.discard(room))
        return room

    async def close(self) -> None:
        """Leave every room still open (consented) and release the HTTP session."""
        rooms, self._rooms = list(self._rooms), set()
        results = await asyncio.gather(*(room.leave(timeout=self.timeout) for room in rooms), return_exceptions=True)
        for room, result in zip(rooms, results):
            if isinstance(result, BaseException):
                log.info("room %s did not close cleanly: %r", room.room_id, result)
        if self._session is not None:
            await self._session.close()
            self._session = None

    # ---- plumbing -------------------------------------------------------------------

    async def _matchmake(self, method: str, target: str, options: dict[str, Any] | None,
                         state_cls: type[Any] | None) -> Room[Any]:
        reservation = await self._request(method, target, options or {})
        return await self.consume_seat_reservation(reservation, state_cls=state_cls)

    async def _request(self, method: str, target: str, body: dict[str, Any]) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise TypeError("options must be a dict")
        url = f"{self._http_base}/matchmake/{method}/{quote(target, safe='')}"
        data = await self._call("POST", url, body)
        if not isinstance(data, dict):
            raise MatchMakeError(0, f"unexpected answer from {url}: {data!r:.200}")
        return data

    async def _call(self, verb: str, url: str, body: dict[str, Any] | None = None) -> Any:
        """One HTTP request; the decoded JSON, or MatchMakeError with the server's code."""
        headers = {"Accept": "application/json", **self._request_headers()}
        if body is not None:
            headers["Content-Type"] = "application/json"
        try:
            async with self._http().request(verb, url, headers=headers,
                                            data=None if body is None else json.dumps(body),
                                            timeout=aiohttp.ClientTimeout(total=self.timeout)) as resp:
                status, reason = resp.status, resp.reason or ""
                chunks: list[bytes] = []
                size = 0
                async for chunk in resp.content.iter_chunked(1 << 16):
                    size += len(chunk)
                    if size > self.max_frame_size:
                        raise MatchMakeError(status, f"the answer is larger than max_frame_size "
                                                     f"({self.max_frame_size} bytes)")
                    chunks.append(chunk)
            text = b"".join(chunks).decode("utf-8", "replace")
        except (aiohttp.ClientError, OSError) as e:
            raise ConnectionError(f"cannot reach {url}: {e}") from e
        try:
            data = json.loads(text)
        except ValueError:
            data = None
        error = data.get("error") if isinstance(data, dict) else None
        code = data.get("code") if isinstance(data, dict) else None
        if status >= 400:       # 0.17+: the status, and the code in the body (which may differ)
            raise MatchMakeError(code if isinstance(code, int) else status, str(error or reason or text[:200]))
        if error:               # 0.16: status 200, the code in the body
            raise MatchMakeError(code if isinstance(code, int) else 0, str(error))
        return data

    def _request_headers(self) -> dict[str, str]:
        headers = dict(self.headers)
        if self.auth_token:
            headers["Authorization"] = f"Bearer {self.auth_token}"
        return headers

    def _socket_headers(self) -> dict[str, str]:
        return dict(self.headers)

    def _ws_url(self, seat: SeatReservation) -> str:
        base = f"{self._ws_scheme}://{seat.public_address}" if seat.public_address else self._ws_base
        params = [self._query] if self._query else []
        params.append(f"sessionId={quote(seat.session_id, safe='')}")
        if seat.reconnection_token:
            params.append(f"reconnectionToken={quote(seat.reconnection_token, safe='')}")
        if self.auth_token:
            params.append(f"_authToken={quote(self.auth_token, safe='')}")
        return f"{base}/{seat.process_id}/{seat.room_id}?{'&'.join(params)}"

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            # No connection limit: each room holds one connection for its WebSocket.
            self._session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
        return self._session

