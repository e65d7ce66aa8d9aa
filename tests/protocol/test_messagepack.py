"""MessagePack as Colyseus clients write it (msgpackr records) and as Node's server sends it.

The byte strings are the ones recorded from colyseus.js 0.16 and msgpackr in
room-protocol.md (sections 3.5 and 11)."""
from __future__ import annotations

import datetime
import tracemalloc

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pyseus import protocol

from pyseus.protocol import MessagePackError

EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)


@pytest.mark.parametrize("hexbytes, value", [
    ("d4724091a2627902", {"by": 2}),
    ("93 01 a3 74776f d4 72 40 91 a5 7468726565 03", [1, "two", {"three": 3}]),
    ("d4 72 40 92 a1 61 a1 64 d4 72 41 91 a1 62 d4 72 42 91 a1 63 01 91 d4 72 43 91 a1 61 41 42 02",
     {"a": {"b": {"c": 1}}, "d": [{"a": {"b": {"c": 2}}}]}),
    ("d4 72 40 92 a1 75 a1 6e d4 00 00 c0", {"u": None, "n": None}),
    ("95 cc 7f cc 80 1f 20 3f", [127, 128, 31, 32, 63]),
    ("d6 ff 00000000", EPOCH),
    ("d7 ff 77359400 00000001", EPOCH + datetime.timedelta(seconds=1.5)),
    ("d3 0000010000000000", 2**40),
    ("92 01 02", [1, 2]),
    ("81 01 a1 61", {1: "a"}),
    ("92 40 d4724091a161 01", [64, {"a": 1}]),          # 0x40 is an int until a record uses the slot
    ("c4 02 09 08", b"\x09\x08"),
])
def test_msgpackr_values(hexbytes: str, value: object) -> None:
    assert protocol.unpack(bytes.fromhex(hexbytes.replace(" ", ""))) == value


def test_record_with_many_keys_and_reused_slots() -> None:
    keys = [f"k{i}" for i in range(20)]
    data = b"\xd4\x72\x40\xdc\x00\x14" + b"".join(msgpack.packb(k) for k in keys) + bytes(range(20))
    assert protocol.unpack(data) == {k: i for i, k in enumerate(keys)}
    # a later definition of slot 0x40 replaces the earlier one within the message
    data = bytes.fromhex("93 d4724091a161 01 d4724091a162 02 4003".replace(" ", ""))
    assert protocol.unpack(data) == [{"a": 1}, {"b": 2}, {"b": 3}]


@pytest.mark.parametrize("hexbytes", [
    "92 01", "c1", "d4 01 00", "d4 72 40 05", "a3 6162", "c7 0c ff 00", "dc ffff", "d9 02 ff fe",
    "81 91 01 02",
])
def test_malformed_payloads_raise(hexbytes: str) -> None:
    with pytest.raises(MessagePackError):
        protocol.unpack(bytes.fromhex(hexbytes.replace(" ", "")))


def test_deep_nesting_is_refused() -> None:
    with pytest.raises(MessagePackError, match="too deep"):
        protocol.unpack(b"\x91" * 100 + b"\x00")


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=40))
def test_random_payloads_raise_only_messagepack_errors(data: bytes) -> None:
    try:
        protocol.unpack(data)
    except MessagePackError:
        pass


values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**31, 2**32 - 1) | st.floats(allow_nan=False) | st.text()
    | st.binary(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=5), children, max_size=4),
    max_leaves=12)


@settings(max_examples=300, deadline=None)
@given(values)
def test_standard_msgpack_reads_back(value: object) -> None:
    assert protocol.unpack(protocol.pack(value)) == value


def test_packing_follows_node_for_integers() -> None:
    assert protocol.pack(2**40) == b"\xcb" + msgpack.packb(float(2**40), use_single_float=False)[1:]
    assert protocol.pack(-(2**31)) == msgpack.packb(-(2**31))
    assert protocol.pack(2**32 - 1) == msgpack.packb(2**32 - 1)
    assert protocol.pack(2**60 + 1) == msgpack.packb(2**60 + 1)     # not exact as a float64
    assert protocol.unpack(protocol.pack({"a": [2**35]})) == {"a": [float(2**35)]}


@pytest.mark.parametrize("header", [
    b"\xdd\xff\xff\xff\xff", b"\xdf\xff\xff\xff\xff", b"\xdb\xff\xff\xff\xff", b"\xc6\xff\xff\xff\xff",
    b"\xc9\xff\xff\xff\xff\x01", b"\xd4\x72" + b"\xdd\xff\xff\xff\xff",
])
def test_lengths_claimed_by_a_header_allocate_nothing(header: bytes) -> None:
    # a 5-byte payload may claim four billion items or bytes: refused without reserving them
    tracemalloc.start()
    try:
        with pytest.raises(MessagePackError):
            protocol.unpack(header + b"\x00" * 16)
        assert tracemalloc.get_traced_memory()[1] < 1 << 20
    finally:
        tracemalloc.stop()


@settings(max_examples=300, deadline=500)
@given(st.binary(max_size=4096))
def test_payloads_up_to_the_frame_size_raise_only_messagepack_errors(data: bytes) -> None:
    try:
        protocol.unpack(data)
    except MessagePackError:
        pass


def _ours(data: bytes) -> object:
    # the Python reader alone (unpack() tries the C unpacker first on standard msgpack)
    from pyseus.protocol._unpacker import read
    return read(data)


deep_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**63, 2**64 - 1) | st.floats(width=32, allow_nan=False)
    | st.text(max_size=4) | st.binary(max_size=4) | st.datetimes(timezones=st.just(datetime.timezone.utc)),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.integers(0, 9) | st.text(max_size=3),
                                                                      children, max_size=3),
    max_leaves=30)


@settings(max_examples=500, deadline=None)
@given(deep_values, st.integers(0, 80))
def test_the_fast_path_reads_what_our_reader_reads(value: object, nesting: int) -> None:
    _agree(b"\x91" * nesting + msgpack.packb(value, datetime=True, use_bin_type=True))


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=200))
def test_the_fast_path_agrees_on_any_bytes(data: bytes) -> None:
    _agree(data)


def _agree(data: bytes) -> None:
    """unpack() gives what our reader gives, or raises as it does."""
    try:
        expected = _ours(data)
    except MessagePackError:
        with pytest.raises(MessagePackError):
            protocol.unpack(data)
        return
    assert repr(protocol.unpack(data)) == repr(expected)      # (repr: NaN equals itself there)


def _as_msgpackr(value: object, slots: dict[tuple[str, ...], int]) -> bytes:
    """``value`` written as colyseus.js writes it: objects as records, a key list
    defined once per message (``d4 72 <slot>``) and its slot byte reused after."""
    if isinstance(value, dict):
        keys = tuple(value)
        if keys in slots:
            head = bytes((0x40 | slots[keys],))
        else:
            slots[keys] = len(slots)
            head = b"\xd4\x72" + bytes((0x40 | slots[keys],)) + msgpack.packb(list(keys))
        return head + b"".join(_as_msgpackr(v, slots) for v in value.values())
    if isinstance(value, list):
        return _array_header(len(value)) + b"".join(_as_msgpackr(v, slots) for v in value)
    return msgpack.packb(value, use_bin_type=True)


def _array_header(n: int) -> bytes:
    return bytes((0x90 | n,)) if n < 16 else b"\xdc" + n.to_bytes(2, "big")


records = st.recursive(
    st.none() | st.booleans() | st.integers(-2**63, 2**64 - 1) | st.floats(allow_nan=False) | st.text(max_size=4),
    lambda children: st.lists(children, max_size=3)
    | st.dictionaries(st.sampled_from(["x", "y", "angle", "name"]), children, min_size=1, max_size=3),
    max_leaves=20)


@settings(max_examples=500, deadline=None)
@given(records)
def test_colyseus_js_records_read_back(value: object) -> None:
    # (at most 64 distinct key lists fit the slots; these values have far fewer)
    assert protocol.unpack(_as_msgpackr(value, {})) == value
