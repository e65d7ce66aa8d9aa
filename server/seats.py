"""The seats a room holds for clients that are not in it yet.

Two kinds: a *reservation* made by matchmaking, which the client claims by
opening its WebSocket within the seat reservation time, and a *reconnection*
kept by ``allow_reconnection`` for a client that dropped, claimed with its
reconnection token. Both count against ``max_clients``; ``on_change`` is called
whenever their number goes down or up, so that the room can update its listing
and dispose itself when nothing is left.
"""
from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .client import Client, ClientState
from .deferred import Deferred

__all__ = ["Seats", "Reservation", "PendingReconnection"]


@dataclass
class Reservation:
    """A seat matchmaking reserved for ``session_id``."""
    session_id: str
    options: dict[str, Any]
    token: str | None                     # the auth token of the matchmaking request
    timer: asyncio.TimerHandle | None = None


@dataclass
class PendingReconnection:
    """The seat of a client that dropped, waiting for it to come back."""
    client: Client
    deferred: Deferred[Client]
    reconnecting: bool = False            # the HTTP reconnect step has happened
    timer: asyncio.TimerHandle | None = field(default=None)


class Seats:
    """Reservations and reconnections of one room."""

    def __init__(self, on_change: Callable[[], None]) -> None:
        self._on_change = on_change
        self._reserved: dict[str, Reservation] = {}
        self._reconnections: dict[str, PendingReconnection] = {}   # by the client's current token
        self._held: dict[str, list[asyncio.Future[None]]] = {}      # waiting for a token to be held

    def __len__(self) -> int:
        return len(self._reserved) + len(self._reconnections)

    @property
    def reserved(self) -> int:
        """Seats reserved by matchmaking and not claimed yet."""
        return len(self._reserved)

    # ---- reservations ------------------------------------------------------------

    def reserve(self, session_id: str, options: dict[str, Any], token: str | None, seconds: float) -> None:
        """Hold a seat for ``seconds``; it is released if nobody claims it in time."""
        reservation = Reservation(session_id, options, token)
        reservation.timer = asyncio.get_running_loop().call_later(seconds, self._expire, session_id)
        self._reserved[session_id] = reservation
        self._on_change()

    def _expire(self, session_id: str) -> None:
        if self._reserved.pop(session_id, None) is not None:
            self._on_change()

    def claim(self, session_id: str) -> Reservation | None:
        """Take the reservation of ``session_id`` (None: there is none, or it expired).
        The seat stays taken: the caller puts the client in it."""
        reservation = self._reserved.pop(session_id, None)
        if reservation is not None and reservation.timer is not None:
            reservation.timer.cancel()
        return reservation

    # ---- reconnections -----------------------------------------------------------

    def hold(self, client: Client, seconds: float | str) -> Deferred[Client]:
        """Keep ``client``'s seat for a reconnection (``seconds`` or ``"manual"``).

        The client must be LEAVING after having joined; it becomes RECONNECTING,
        and GONE when the returned Deferred is rejected (timeout, ``reject()``).
        """
        deferred: Deferred[Client] = Deferred()
        if client.state is not ClientState.LEAVING or not client.was_joined:
            deferred.reject("not joined")
            return deferred
        pending = PendingReconnection(client, deferred)
        token = client.reconnection_token
        client.transition(ClientState.RECONNECTING)
        self._reconnections[token] = pending
        if seconds != "manual":
            pending.timer = asyncio.get_running_loop().call_later(float(seconds), deferred.reject, "timeout")
        deferred.add_done_callback(lambda: self._settled(token, pending))
        for waiter in self._held.pop(token, ()):
            if not waiter.done():
                waiter.set_result(None)
        self._on_change()
        return deferred

    def held_for(self, client: Client) -> Deferred[Client] | None:
        """The pending reconnection of ``client``, if its seat is held."""
        pending = self._reconnections.get(client.reconnection_token)
        return pending.deferred if pending is not None and pending.client is client else None

    async def wait_held(self, token: str, seconds: float) -> bool:
        """Wait (at most ``seconds``) until a seat is held for the client whose token is
        ``token``: a reconnection that arrived while its old socket still looked open."""
        if token in self._reconnections:
            return True
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._held.setdefault(token, []).append(waiter)
        try:
            await asyncio.wait_for(waiter, seconds)
            return True
        except asyncio.TimeoutError:
            return False
        finally:
            waiters = self._held.get(token)
            if waiters is not None and waiter in waiters:
                waiters.remove(waiter)
                if not waiters:
                    del self._held[token]

    def _settled(self, token: str, pending: PendingReconnection) -> None:
        if pending.timer is not None:
            pending.timer.cancel()
        if not pending.deferred.rejected:
            return                  # resolved: claim_reconnection already took the seat back
        if self._reconnections.get(token) is pending:
            del self._reconnections[token]
        if pending.client.state is ClientState.RECONNECTING:
            pending.client.transition(ClientState.GONE)
        self._on_change()

    def check_token(self, token: str) -> str | None:
        """The HTTP reconnect step: the session id waiting on ``token`` (None: no such
        wait); from now on a WebSocket may claim it."""
        pending = self._reconnections.get(token)
        if pending is None or pending.deferred.done:
            return None
        pending.reconnecting = True
        return pending.client.session_id

    def claim_reconnection(self, session_id: str, token: str, *, after_http: bool) -> PendingReconnection | None:
        """Take the reconnection of ``session_id`` waiting on ``token`` (None: there is
        none). ``after_http``: only once its HTTP reconnect step happened (0.16; 0.17+
        clients reconnect with the WebSocket alone). The caller resolves its Deferred."""
        pending = self._reconnections.get(token)
        if (pending is None or pending.client.session_id != session_id
                or (after_http and not pending.reconnecting) or pending.deferred.done):
            return None
        del self._reconnections[token]
        if pending.timer is not None:
            pending.timer.cancel()
        return pending

    # ---- the end -----------------------------------------------------------------

    def release_all(self, reason: str) -> None:
        """Reject every reconnection with ``reason`` and drop every reservation."""
        for waiters in self._held.values():
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_result(None)     # (then finds nothing to claim)
        for pending in list(self._reconnections.values()):
            pending.deferred.reject(reason)
        for reservation in self._reserved.values():
            if reservation.timer is not None:
                reservation.timer.cancel()
        self._reserved.clear()
