"""What differs between the Colyseus client generations 0.16, 0.17 and 0.18 on the wire.

A server speaks one ``Profile``: one generation exactly, or ``"auto"``, which
every generation understands at once (``shared/spec/generations.md``):

* seat reservations: 0.16 nests the listing under ``room``; 0.17+ are flat;
  auto sends both (the flat fields plus ``room``);
* matchmaking errors: 0.16 answers HTTP 200 with ``{code, error}``; 0.17+ use
  the HTTP status (520-526 for the matchmaking codes), and so does auto;
* JOIN_ROOM: 0.16/0.17 put the 3.x reflection after the serializer id; 0.18
  length-prefixes a 5.x reflection and may add sections; auto sends a frame that
  all three parse (frames.join_room_polyglot), when a handshake is sent at all;
* close codes: 0.17+ close with 4001 on shutdown and 4003 when a reconnection
  fails, where 0.16 uses 4000 and 4002; auto uses the 0.17 codes (nothing tells a
  0.16 client from a 0.17 one before its JOIN_ROOM, and for a 0.16 client the
  only difference is the number its ``onLeave`` reports).
"""
from __future__ import annotations

import enum

from . import frames
from .codes import CloseCode, ErrorCode

__all__ = [
    "Profile", "PROFILES", "Generation", "check_profile", "legacy", "wire_error_code", "http_status",
    "join_room_frame", "shutdown_close_code", "failed_join_close_code",
]


class Generation(enum.Enum):
    """A generation of client SDKs."""
    V0_16 = "0.16"
    V0_17 = "0.17"
    V0_18 = "0.18"


# what Server(protocol=...) takes: one generation, or all of them
Profile = str
PROFILES: tuple[Profile, ...] = ("auto", "0.16", "0.17", "0.18")

# 0.17 renumbered the matchmaking codes 4210..4216 as 520..526 (INVALID_PAYLOAD kept 4217)
_RENUMBERED = {code: 520 + (code - ErrorCode.MATCHMAKE_NO_HANDLER)
               for code in range(ErrorCode.MATCHMAKE_NO_HANDLER, ErrorCode.APPLICATION_ERROR + 1)}
_RENUMBERED[ErrorCode.SEAT_RESERVATION_EXPIRED] = 524      # 0.17+: a refused seat is MATCHMAKE_EXPIRED


def check_profile(profile: str) -> Profile:
    if profile not in PROFILES:
        raise ValueError(f"protocol must be one of {', '.join(PROFILES)}, not {profile!r}")
    return profile


def legacy(profile: Profile) -> bool:
    """Whether ``profile`` speaks 0.16 only (its error and close codes)."""
    return profile == "0.16"


def wire_error_code(code: int, profile: Profile) -> int:
    """An error code as ``profile`` writes it (0.16 numbering in, the wire's out).
    Codes the generations share, and the application's own, pass unchanged."""
    return code if legacy(profile) else _RENUMBERED.get(int(code), int(code))


def http_status(code: int, profile: Profile) -> int:
    """The HTTP status of a matchmaking error answer: 200 in 0.16 (the code is in the
    body), else the 0.17 code when it is a valid status, and 500 for other codes
    (the body still carries the application's code and message)."""
    if legacy(profile):
        return 200
    wire = wire_error_code(code, profile)
    return wire if 400 <= wire <= 599 else 500


def shutdown_close_code(profile: Profile) -> int:
    """The close code of a graceful shutdown."""
    return CloseCode.CONSENTED if legacy(profile) else CloseCode.SERVER_SHUTDOWN


def failed_join_close_code(profile: Profile, reconnecting: bool, dev_mode: bool) -> int:
    """The close code after the ERROR of a refused WebSocket join."""
    if legacy(profile) or not reconnecting:
        return CloseCode.WITH_ERROR
    return CloseCode.MAY_TRY_RECONNECT if dev_mode else CloseCode.FAILED_TO_RECONNECT


def join_room_frame(profile: Profile, reconnection_token: str, serializer: str,
                    handshake3: bytes, handshake5: bytes) -> bytes:
    """JOIN_ROOM as ``profile`` writes it. The handshakes are the state's reflection in
    the 3.x and 5.x forms; both empty when none is sent (no state, or skipHandshake)."""
    if profile == "0.18":
        return frames.join_room_v18(reconnection_token, serializer, handshake5)
    if profile == "auto" and handshake5:
        return frames.join_room_polyglot(reconnection_token, serializer, handshake5, handshake3)
    return frames.join_room(reconnection_token, serializer, handshake3)
