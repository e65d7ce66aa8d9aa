"""WebSocket framing without I/O: the parser against frames cut and fragmented every way, and every rule."""
from __future__ import annotations

import os
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pyseus.protocol import websocket
from pyseus.protocol._framing import mask
from pyseus.protocol.websocket import (
    BINARY, CLOSE, CONTINUATION, PING, PONG, TEXT, FrameError, FrameParser, accept_key, close_frame, frame,
    parse_close,
)


def raw_frame(opcode: int, payload: bytes, *, fin: bool = True, mask: bytes | None = b"\x01\x02\x03\x04",
              rsv: int = 0) -> bytes:
    """A frame built by hand (the reference for the parser, independent of frame())."""
    n = len(payload)
    b0 = (0x80 if fin else 0) | rsv | opcode
    mbit = 0x80 if mask is not None else 0
    if n < 126:
        header = bytes((b0, mbit | n))
    elif n < 65536:
        header = bytes((b0, mbit | 126)) + n.to_bytes(2, "big")
    else:
        header = bytes((b0, mbit | 127)) + n.to_bytes(8, "big")
    if mask is None:
        return header + payload
    return header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


messages = st.lists(st.one_of(
    st.tuples(st.just(BINARY), st.binary(max_size=300)),
    st.tuples(st.just(TEXT), st.text(max_size=100).map(str.encode)),
    st.tuples(st.sampled_from([PING, PONG]), st.binary(max_size=125)),
), max_size=8)


@settings(max_examples=300, deadline=None)
@given(messages, st.data())
def test_messages_come_out_whole_however_the_bytes_are_cut(sent: list[tuple[int, bytes]], data: st.DataObject
                                                           ) -> None:
    stream = b""
    for op, payload in sent:
        mask = data.draw(st.binary(min_size=4, max_size=4))
        if op in (PING, PONG) or not payload:
            stream += raw_frame(op, payload, mask=mask)
            continue
        # a data message in fragments, with a control frame between two of them sometimes
        cuts = sorted(data.draw(st.lists(st.integers(1, len(payload)), max_size=3, unique=True)))
        pieces = [payload[a:b] for a, b in zip([0, *cuts], [*cuts, len(payload)]) if a < b] or [b""]
        for i, piece in enumerate(pieces):
            stream += raw_frame(op if i == 0 else CONTINUATION, piece, fin=i == len(pieces) - 1, mask=mask)
            if i < len(pieces) - 1 and data.draw(st.booleans()):
                stream += raw_frame(PING, b"between", mask=mask)
    expected: list[tuple[int, bytes]] = []
    for op, payload in sent:
        expected.append((op, payload))
    parser = FrameParser(4096, masked=True)
    got: list[tuple[int, bytes]] = []
    reads = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=10)))
    for a, b in zip([0, *reads], [*reads, len(stream)]):
        got += parser.feed(stream[a:b])
    assert [m for m in got if m != (PING, b"between")] == expected
    assert parser.buffered == 0


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=600), st.booleans())
def test_any_bytes_give_messages_or_a_frame_error(data: bytes, masked: bool) -> None:
    parser = FrameParser(256, masked=masked)
    try:
        for message in parser.feed(data):
            assert message[0] in (TEXT, BINARY, CLOSE, PING, PONG) and isinstance(message[1], bytes)
    except FrameError as e:
        assert e.code in (1002, 1007, 1009)


def test_frames_built_here_parse_back() -> None:
    for payload in (b"", b"x" * 125, b"y" * 126, b"z" * 65535, b"w" * 65536):
        assert FrameParser(70000, masked=True).feed(frame(BINARY, payload, mask=True)) == [(BINARY, payload)]
        assert FrameParser(70000, masked=False).feed(frame(BINARY, payload)) == [(BINARY, payload)]
    assert frame(BINARY, b"ab") == b"\x82\x02ab"
    assert close_frame(4000, b"bye") == b"\x88\x05\x0f\xa0bye"
    assert close_frame(None) == b"\x88\x00"
    assert len(close_frame(1000, b"r" * 200)) == 2 + 125          # (a control frame's limit)
    assert parse_close(close_frame(4002, "é".encode())[2:]) == (4002, "é")


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=100), st.binary(min_size=4, max_size=4), st.integers(0, 7))
def test_masking_is_the_xor_of_the_key_repeated(payload: bytes, key: bytes, skip: int) -> None:
    # (the compiled mask works 8 bytes at a time: every length and alignment of the rest)
    data = memoryview(b"\0" * skip + payload)[skip:]
    expected = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
    assert mask(data, key) == expected
    assert mask(expected, key) == payload


@settings(max_examples=300, deadline=None)
@given(st.sampled_from([BINARY, TEXT, PING, PONG, CLOSE]),
       st.one_of(st.binary(max_size=300), st.integers(0, 70000).map(lambda size: bytes(i % 251 for i in range(size)))),
       st.booleans(), st.sampled_from([bytes, bytearray, memoryview]))
def test_frames_are_the_rfc_bytes(opcode: int, payload: bytes, masked: bool, kind: type) -> None:
    # (the key is drawn inside frame(): read it back from where the RFC puts it)
    built = frame(opcode, kind(payload), mask=masked)
    head = len(raw_frame(opcode, payload, mask=None)) - len(payload)
    key = built[head:head + 4] if masked else None
    assert built == raw_frame(opcode, payload, mask=key)


def test_every_client_frame_has_its_own_mask_key_even_after_a_fork() -> None:
    def key(f: bytes) -> bytes:
        return f[2:6]
    keys = [key(frame(BINARY, b"same", mask=True)) for _ in range(3000)]     # (beyond one pool of keys)
    assert len(set(keys)) > 2990
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:        # the child writes the keys it draws next
        os.write(write, b"".join(key(frame(BINARY, b"x", mask=True)) for _ in range(8)))
        os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    child = os.read(read, 64)
    os.close(read)
    parent = b"".join(key(frame(BINARY, b"x", mask=True)) for _ in range(8))
    assert len(child) == 32 and child != parent


@pytest.mark.parametrize("stream, code, reason", [
    (raw_frame(BINARY, b"abc", mask=None), 1002, "must be masked"),
    (raw_frame(BINARY, b"abc", rsv=0x40), 1002, "reserved bits"),
    (raw_frame(0x3, b"abc"), 1002, "unknown opcode 3"),
    (raw_frame(0xB, b""), 1002, "unknown opcode 11"),
    (raw_frame(CONTINUATION, b"abc"), 1002, "continuation frame without a message"),
    (raw_frame(BINARY, b"a", fin=False) + raw_frame(TEXT, b"b"), 1002, "new message before the end"),
    (raw_frame(PING, b"p" * 126), 1002, "control frames"),
    (raw_frame(PING, b"p", fin=False), 1002, "control frames"),
    (raw_frame(TEXT, b"\xff\xfe"), 1007, "not UTF-8"),
    (raw_frame(TEXT, "é".encode()[:1], fin=False) + raw_frame(CONTINUATION, b"x"), 1007, "not UTF-8"),
])
def test_what_a_peer_must_not_send(stream: bytes, code: int, reason: str) -> None:
    with pytest.raises(FrameError, match=reason) as caught:
        FrameParser(4096, masked=True).feed(stream)
    assert caught.value.code == code


def test_a_text_character_split_across_fragments_is_fine() -> None:
    e = "é".encode()
    stream = raw_frame(TEXT, e[:1], fin=False) + raw_frame(CONTINUATION, e[1:])
    assert FrameParser(4096, masked=True).feed(stream) == [(TEXT, e)]


def test_a_client_refuses_masked_frames() -> None:
    with pytest.raises(FrameError, match="masked frame"):
        FrameParser(4096, masked=False).feed(raw_frame(BINARY, b"x"))


def test_too_big_is_known_from_the_header() -> None:
    parser = FrameParser(4096, masked=True)
    assert parser.feed(raw_frame(BINARY, b"a" * 4096)) == [(BINARY, b"a" * 4096)]
    # only the header of a larger frame: refused before its payload arrives
    with pytest.raises(FrameError, match="larger than 4096") as caught:
        FrameParser(4096, masked=True).feed(bytes((0x82, 0xFF)) + (2**62).to_bytes(8, "big"))
    assert caught.value.code == 1009
    # the largest lengths the header can carry (the parser counts in 64 bits), alone and after a fragment
    for length in (2**63 - 1, 2**63, 2**64 - 1):
        header = bytes((0x82, 0xFF)) + length.to_bytes(8, "big")
        with pytest.raises(FrameError, match="larger than 4096"):
            FrameParser(4096, masked=True).feed(header)
        with pytest.raises(FrameError, match="larger than 4096"):
            FrameParser(4096, masked=True).feed(raw_frame(BINARY, b"a" * 100, fin=False)
                                                + bytes((0x80, 0xFF)) + length.to_bytes(8, "big"))
    # fragments count together
    fragmented = raw_frame(BINARY, b"a" * 3000, fin=False) + raw_frame(CONTINUATION, b"b" * 1200)
    with pytest.raises(FrameError, match="larger than 4096"):
        FrameParser(4096, masked=True).feed(fragmented)


@pytest.mark.parametrize("payload, code", [
    (b"\x03", 1002), (struct.pack("!H", 999), 1002), (struct.pack("!H", 1005), 1002),
    (struct.pack("!H", 1006), 1002), (struct.pack("!H", 1015), 1002), (struct.pack("!H", 5000), 1002),
    (struct.pack("!H", 4000) + b"\xff", 1007),
])
def test_bad_close_frames(payload: bytes, code: int) -> None:
    with pytest.raises(FrameError) as caught:
        parse_close(payload)
    assert caught.value.code == code


def test_close_frames() -> None:
    assert parse_close(b"") == (None, "")
    assert parse_close(struct.pack("!H", 1000)) == (1000, "")
    assert parse_close(struct.pack("!H", 4999) + b"why") == (4999, "why")


def test_the_handshake_answer_of_the_rfc() -> None:
    assert accept_key("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
    assert websocket.__all__ and all(hasattr(websocket, name) for name in websocket.__all__)
