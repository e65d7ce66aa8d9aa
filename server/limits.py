"""What one client may cost everyone else: the limits of a server, and their meters.

Every limit is on by default with a value meant for a public game server; each
is described in ``SECURITY.md`` (default, what happens past it, how to change
it). ``Limits`` holds the server-wide values (``Server(limits=Limits(...))``);
a ``Room`` class may override the ones about a single room
(``max_messages_per_second``, ``max_bytes_per_second``, ``max_reservations``,
``max_rooms``).

The meters are token buckets: a client may spend up to ``burst`` at once and
earns ``rate`` per second back, so a steady 60 Hz input never runs dry while a
flood is cut off within a fraction of a second.
"""
from __future__ import annotations

import ipaddress
import logging
import time
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

__all__ = ["Limits", "TokenBucket", "FrameMeter", "AddressLimiter", "Networks", "client_address", "LogOnce"]

log = logging.getLogger("pyseus.server.limits")

MiB = 1024 * 1024


@dataclass(frozen=True)
class Limits:
    """The server-wide limits (see ``SECURITY.md`` for the table)."""

    # ---- one client socket
    messages_per_second: float = 120.0        #: refill of a client's message bucket (close 4002 when empty)
    message_burst: int = 240                  #: size of that bucket
    bytes_per_second: float = 256 * 1024      #: refill of a client's byte bucket (close 4002 when empty)
    byte_burst: int = 1 * MiB                 #: size of that bucket
    join_ack_timeout: float = 10.0            #: JOIN_ROOM sent, no acknowledgement: the client is dropped
    join_queue_bytes: int = 1 * MiB           #: what may wait for a joining client (dropped past it)
    send_buffer_bytes: int = 8 * MiB          #: unsent bytes of one socket (dropped past it)
    total_send_buffer_bytes: int = 256 * MiB  #: unsent bytes of all sockets (the largest are dropped)
    # ---- HTTP
    request_timeout: float = 10.0             #: to receive a request's headers and body (then closed)
    keepalive_timeout: float = 15.0           #: an idle keep-alive connection is closed after this
    max_body_bytes: int = 1 * MiB             #: a matchmaking body (413 past it)
    max_json_depth: int = 32                  #: nesting of a matchmaking body (refused past it)
    requests_per_second: float = 10.0         #: HTTP requests and WebSocket upgrades per client address
    request_burst: int = 60                   #: (answered 429 when the address's bucket is empty)
    rate_limit_exempt: tuple[str, ...] = ("127.0.0.0/8", "::1")   #: addresses the per-address rate skips
    # ---- matchmaking
    max_rooms: int = 2000                     #: rooms of this process (matchmaking refuses new ones)
    max_rooms_per_type: int | None = None     #: rooms of one type (None: max_rooms); Room.max_rooms overrides
    max_reservations: int = 100               #: unclaimed seats of one room; Room.max_reservations overrides
    # ---- the end
    shutdown_timeout: float = 10.0            #: for the rooms' hooks on shutdown, then the process goes anyway

    def __post_init__(self) -> None:
        for name in ("messages_per_second", "bytes_per_second", "join_ack_timeout", "request_timeout",
                     "keepalive_timeout", "requests_per_second", "shutdown_timeout"):
            if not getattr(self, name) > 0:
                raise ValueError(f"Limits.{name} must be positive")
        for name in ("message_burst", "byte_burst", "join_queue_bytes", "send_buffer_bytes",
                     "total_send_buffer_bytes", "max_body_bytes", "max_json_depth", "request_burst",
                     "max_rooms", "max_reservations"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"Limits.{name} must be a positive int")
        Networks(self.rate_limit_exempt)       # raises ValueError on a bad address


class TokenBucket:
    """``capacity`` tokens, refilled at ``rate`` per second; ``take(n)`` spends them."""

    __slots__ = ("rate", "capacity", "tokens", "stamp")

    def __init__(self, rate: float, capacity: float) -> None:
        self.rate = rate
        self.capacity = capacity
        self.tokens = float(capacity)
        self.stamp = time.monotonic()

    def take(self, n: float = 1.0, now: float | None = None) -> bool:
        """Spend ``n`` tokens (at ``now``, ``time.monotonic()`` by default); False
        (nothing spent) when there are not enough."""
        if now is None:
            now = time.monotonic()
        tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if tokens < n:
            self.tokens = tokens
            return False
        self.tokens = tokens - n
        return True

    @property
    def full(self) -> bool:
        return self.tokens + (time.monotonic() - self.stamp) * self.rate >= self.capacity


class FrameMeter:
    """The message and the byte bucket of one client socket."""

    __slots__ = ("messages", "bytes")

    def __init__(self, messages_per_second: float, message_burst: float, bytes_per_second: float,
                 byte_burst: float) -> None:
        self.messages = TokenBucket(messages_per_second, message_burst)
        self.bytes = TokenBucket(bytes_per_second, byte_burst)

    def allow(self, size: int) -> bool:
        """Count one frame of ``size`` bytes; False once either bucket is empty."""
        now = time.monotonic()
        return self.messages.take(1.0, now) and self.bytes.take(size, now)


class Networks:
    """A set of addresses and networks (``"10.0.0.0/8"``, ``"::1"``) to test addresses against."""

    def __init__(self, specs: Iterable[str]) -> None:
        self._networks = []
        for spec in specs:
            try:
                self._networks.append(ipaddress.ip_network(spec, strict=False))
            except ValueError:
                raise ValueError(f"{spec!r} is not an IP address or network") from None

    def __bool__(self) -> bool:
        return bool(self._networks)

    def __contains__(self, address: object) -> bool:
        if not self._networks or not isinstance(address, str):
            return False
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        return any(ip in net for net in self._networks)


def client_address(peer: str, headers: Mapping[str, str], trusted_proxies: Networks) -> str:
    """The address of the client behind a request.

    The socket's peer, unless the peer is a trusted proxy: then the rightmost
    address of ``X-Forwarded-For`` that is not itself a trusted proxy (what
    the proxy saw; anything left of it may be forged), or ``X-Real-IP``.
    """
    if peer not in trusted_proxies:
        return peer
    forwarded = [a.strip() for a in headers.get("X-Forwarded-For", "").split(",") if a.strip()]
    for address in reversed(forwarded):
        if address not in trusted_proxies:
            return address
    real = headers.get("X-Real-IP", "").strip()
    return real or (forwarded[0] if forwarded else peer)


@dataclass
class _Entry:
    bucket: TokenBucket
    logged: bool = False


@dataclass
class AddressLimiter:
    """A token bucket per client address, for HTTP requests and WebSocket upgrades.

    Addresses whose bucket is full again are forgotten, and at most
    ``max_addresses`` are remembered (the least recently seen go first), so
    the table stays small whatever the number of addresses.
    """
    rate: float
    burst: int
    exempt: Networks = field(default_factory=lambda: Networks(()))
    max_addresses: int = 100_000
    _entries: OrderedDict[str, _Entry] = field(default_factory=OrderedDict)

    def allow(self, address: str) -> bool:
        """Count one request from ``address``; False when it is over its rate."""
        if address in self.exempt:
            return True
        entry = self._entries.get(address)
        if entry is None:
            self._forget_oldest()
            entry = self._entries[address] = _Entry(TokenBucket(self.rate, self.burst))
        else:
            self._entries.move_to_end(address)
        if entry.bucket.take():
            entry.logged = False
            return True
        if not entry.logged:
            entry.logged = True
            log.warning("%s is over %s requests per second (burst %s): answering 429", address, self.rate,
                        self.burst)
        return False

    def _forget_oldest(self) -> None:
        # Each new address forgets up to two of the least recently seen ones whose
        # bucket is full again (they are as good as new): the table holds about the
        # addresses seen within one refill time, and never more than max_addresses.
        entries = self._entries
        for _ in range(2):
            if not entries:
                return
            oldest = next(iter(entries.values()))
            if not oldest.bucket.full and len(entries) < self.max_addresses:
                return
            entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)


class LogOnce:
    """Log a warning the first time a condition triggers, and again only after it cleared."""

    def __init__(self, logger: logging.Logger) -> None:
        self._log = logger
        self._active: set[object] = set()

    def trigger(self, key: object, message: str, *args: object) -> None:
        if key not in self._active:
            self._active.add(key)
            self._log.warning(message, *args)

    def clear(self, key: object) -> None:
        self._active.discard(key)
