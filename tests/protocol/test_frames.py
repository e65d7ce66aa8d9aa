"""Frames of the room protocol, built and parsed without I/O; the code tables.

The byte strings are the ones recorded from colyseus.js 0.16 in room-protocol.md."""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pyseus import protocol
from pyseus.protocol import CloseCode, ErrorCode


def test_frames() -> None:
    assert protocol.join_room("UFvBg9Gxk", "schema", b"\x80\x01") == \
        b"\x0a\x09UFvBg9Gxk\x06schema\x80\x01"
    assert protocol.parse_server_frame(b"\x0a\x09UFvBg9Gxk\x04none") == protocol.JoinRoom("UFvBg9Gxk", "none", b"")
    assert protocol.error(0, "seat reservation expired.") == bytes.fromhex(
        "0b00b9736561742072657365727661 74696f6e20657870697265642e".replace(" ", ""))
    assert protocol.parse_server_frame(bytes.fromhex("0bcd7810ab6a6f696e206661696c6564")) == \
        protocol.ErrorMessage(4216, "join failed")
    assert protocol.room_data(6, [1, "two", {"three": 3}])[:2] == b"\x0d\x06"
    assert protocol.parse_client_frame(b"\x0a") == protocol.JoinAck()
    assert protocol.parse_client_frame(b"\x0c") == protocol.LeaveRoom()
    assert protocol.parse_client_frame(b"\x63") is None                 # ignored codes
    assert protocol.parse_client_frame(bytes.fromhex("0da96e6f7061796c6f6164")) == \
        protocol.RoomData("nopayload", b"")
    frame = protocol.parse_client_frame(bytes.fromhex("0d05 93 01 a3 74776f d4 72 40 91 a5 7468726565 03"
                                                      .replace(" ", "")))
    assert frame.type == 5 and frame.message() == [1, "two", {"three": 3}]
    assert protocol.parse_server_frame(b"\x0f\x80\x01") == protocol.RoomPatch(b"\x80\x01")


def test_bad_frames_and_types() -> None:
    with pytest.raises(protocol.ProtocolError):
        protocol.parse_client_frame(b"\x0d\xa0")            # "" is not a message type
    with pytest.raises(protocol.ProtocolError):
        protocol.parse_client_frame(b"")
    with pytest.raises(protocol.ProtocolError):
        protocol.parse_client_frame(b"\x0d\xca\x00\x00\xc0\x3f")   # 1.5 is not a type
    with pytest.raises(protocol.ProtocolError):
        protocol.RoomData("x", b"\x92\x01").message()
    with pytest.raises(protocol.ProtocolError):
        protocol.parse_server_frame(b"\x0a\x09abc")
    with pytest.raises(ValueError):
        protocol.encode_type("")
    with pytest.raises(TypeError):
        protocol.encode_type(1.5)   # type: ignore[arg-type]


def test_code_tables_use_the_reference_names() -> None:
    assert CloseCode.CONSENTED == 4000 and CloseCode.WITH_ERROR == 4002 and CloseCode.DEVMODE_RESTART == 4010
    assert ErrorCode.MATCHMAKE_INVALID_ROOM_ID == 4212 and ErrorCode.INVALID_PAYLOAD == 4217
    assert [c.value for c in ErrorCode if c] == list(range(4210, 4218))
    assert ErrorCode.SEAT_RESERVATION_EXPIRED == 0     # an undefined code in the reference


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=64))
def test_random_bytes_parse_to_a_frame_or_a_protocol_error(data: bytes) -> None:
    for parse in (protocol.parse_client_frame, protocol.parse_server_frame):
        try:
            frame = parse(data)
        except protocol.ProtocolError:
            continue
        if isinstance(frame, protocol.RoomData):
            try:
                frame.message()
            except protocol.ProtocolError:
                pass


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.text(min_size=1, max_size=300), st.integers(min_value=-(2**31), max_value=2**32 - 1)),
       st.binary(max_size=100))
def test_room_data_frames_read_back(type: str | int, data: bytes) -> None:
    assert protocol.parse_client_frame(protocol.room_data_bytes(type, data)) == protocol.RoomDataBytes(type, data)
    frame = protocol.parse_server_frame(protocol.room_data(type, {"d": data}))
    assert isinstance(frame, protocol.RoomData) and frame.type == type and frame.message() == {"d": data}


# Frames up to the server's 4 KiB cap, parsed within a time bound per example.
@settings(max_examples=300, deadline=500)
@given(st.sampled_from(list(protocol.Protocol)), st.binary(max_size=4096))
def test_frames_up_to_the_size_cap_parse_or_raise_protocol_error(code: protocol.Protocol, rest: bytes) -> None:
    data = bytes((code,)) + rest
    for parse in (protocol.parse_client_frame, protocol.parse_server_frame):
        try:
            frame = parse(data)
        except protocol.ProtocolError:
            continue
        if isinstance(frame, (protocol.RoomData, protocol.RoomRequest)):
            try:
                frame.message()
            except protocol.ProtocolError:
                pass


@given(st.text(max_size=200))
def test_close_reasons_fit_a_close_frame_and_stay_valid_utf8(reason: str) -> None:
    data = protocol.close_reason(reason)
    assert len(data) <= protocol.MAX_CLOSE_REASON
    assert reason.encode("utf-8", "replace").startswith(data)
    data.decode("utf-8")
