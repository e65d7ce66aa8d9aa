"""The Decoder: malformed input, reference counting and changes."""
from __future__ import annotations

import logging

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pyseus.schema import (
    ArraySchema, DecodeError, Decoder, Encoder, MapSchema, Reflection, Schema, SetSchema, number, string,
)
from pyseus.schema import Change
from pyseus.schema.wire import Operation

ADD, DELETE = Operation.ADD, Operation.DELETE


class Leaf(Schema):
    v: number = 0
    label: string = ""


class Tree(Schema):
    leaves: MapSchema[Leaf]
    row: ArraySchema[Leaf]
    tags: SetSchema[string]
    top: Leaf | None = None


def sample_messages() -> tuple[bytes, list[bytes]]:
    t = Tree()
    t.leaves["a"] = Leaf(v=1, label="one")
    t.row.append(Leaf(v=2))
    t.tags.add("x")
    enc = Encoder(t)
    msgs = [enc.encode_all()]
    enc.discard()
    t.leaves["b"] = Leaf(v=300.5)
    t.row.insert(0, Leaf(v=-4))
    t.top = t.row[1]
    del t.leaves["a"]
    msgs.append(enc.encode())
    return Reflection.encode(t), msgs


HANDSHAKE, MESSAGES = sample_messages()


def fresh() -> tuple[Tree, Decoder]:
    root = Tree.__new__(Tree)
    return root, Decoder(root)


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=64), st.booleans())
def test_random_bytes_raise_only_decode_error(data: bytes, strict: bool) -> None:
    root, dec = fresh()
    try:
        dec.decode(data)
    except DecodeError:
        pass
    # whatever was applied, every structure in the state is still known by refId
    assert None not in {dec.ref_id(x) for x in _reachable(root)}


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_truncated_and_corrupted_messages_raise_only_decode_error(data: st.DataObject) -> None:
    root, dec = fresh()
    dec.decode(MESSAGES[0])
    msg = bytearray(MESSAGES[1])
    if data.draw(st.booleans()):
        msg = msg[:data.draw(st.integers(0, len(msg) - 1))]
    else:
        for _ in range(data.draw(st.integers(1, 3))):
            msg[data.draw(st.integers(0, len(msg) - 1))] = data.draw(st.integers(0, 255))
    try:
        dec.decode(bytes(msg))
    except DecodeError as e:
        assert e.offset is None or 0 <= e.offset <= len(msg)
    assert None not in {dec.ref_id(x) for x in _reachable(root)}


def _reachable(root: Schema) -> list:
    out, stack = [], [root]
    while stack:
        x = stack.pop()
        children = x._raw_values() if isinstance(x, Schema) else list(x.values()) if isinstance(x, MapSchema) \
            else list(x)
        for c in children:
            if isinstance(c, (Schema, MapSchema, ArraySchema, SetSchema)) and c not in out:
                out.append(c)
                stack.append(c)
    return out


@pytest.mark.parametrize("data, message", [
    (b"\xff\x09", "refId 9 is not known"),
    (b"\x85\x01", "Tree has no field #5"),
    (b"\x83\xc1", "invalid number prefix 0xc1"),
    (b"\x80", "unexpected end of data"),
    (b"\x03\x01", "refId 1 is not known"),
    (b"\x80\x01\xff\x01\x80\x00\xa3ab", "unexpected end of data"),
    (b"\x80\x01\xff\x01\x80\x00\xa2\xff\xfe\x02", "invalid UTF-8"),
    (b"\x80\x01\xff\x01\x80\x00\xa1a\x02\xff\x02\x81\xc0", "invalid string prefix"),
    (b"\x81\x01\xff\x01\x80\xce\xff\xff\xff\x7f\x05", "out of range"),
    (b"\x81\x01\xff\x01\x33\x00", "invalid ArraySchema operation 0x33"),
    (b"\x80\x01\xff\x01\x00\x07", "index 7 is not bound"),
    (b"\x83\x01\xd5\x07", "unknown type id 7"),
    (b"\x83\x00", "refId 0 is a Tree, not a Leaf"),
])
def test_malformed_input_says_what_and_where(data: bytes, message: str) -> None:
    _, dec = fresh()
    with pytest.raises(DecodeError, match=message) as info:
        dec.decode(data)
    assert "at byte" in str(info.value)


def test_lenient_mode_skips_unknown_blocks_like_the_reference(caplog) -> None:
    root, dec = fresh()
    dec.strict = False
    with caplog.at_level(logging.WARNING, logger="schema.decoder"):
        dec.decode(b"\xff\x09\x80\x01\xff\x00\x83\x01\xff\x01\x80\x07\xbf\x01")
    assert root.to_json() == {"top": {"v": 7}} and "refId 9 is not known" in caplog.text


def test_decode_returns_the_changes_and_frees_unreachable_structures() -> None:
    root, dec = fresh()
    dec.decode(MESSAGES[0])
    changes = dec.decode(MESSAGES[1])
    assert any(c.ref is root.leaves and c.key == "b" and c.op == ADD for c in changes)
    assert any(c.ref is root.leaves and c.key == "a" and c.op == DELETE and c.value is None for c in changes)
    assert root.to_json()["leaves"] == {"b": {"v": 300.5, "label": ""}}
    assert root.top is root.row[1]
    assert dec.refcounts[dec.ref_id(root.top)] == 2
    assert len(dec.refs) == 1 + 3 + 3        # root, 3 collections, 3 leaves ("a" was freed)


def test_a_structure_can_move_between_slots_within_one_message() -> None:
    t = Tree()
    leaf = Leaf(v=9)
    t.leaves["x"] = leaf
    enc = Encoder(t)
    root, dec = fresh()
    dec.decode(enc.encode_all())
    enc.discard()
    del t.leaves["x"]
    t.top = leaf
    dec.decode(enc.encode())
    assert root.to_json() == {"leaves": {}, "row": [], "tags": [], "top": {"v": 9, "label": ""}}


def test_primitive_ops_are_reported_in_wire_order_with_previous_values() -> None:
    # Ops on primitive fields take the decoder's compiled path; a DELETE in the
    # middle of the block takes the general one. Both report the same way.
    t = Tree()
    t.top = Leaf(v=1, label="one")
    enc = Encoder(t)
    root = Reflection.decode(Reflection.encode(t))
    dec = Decoder(root)
    dec.decode(enc.encode_all())
    enc.discard()
    t.top.v = 2.5
    del t.top.label
    t.top.v = 3.5          # same op slot as before: one ADD with the last value
    changes = dec.decode(enc.encode())
    top = root.top
    assert [(c.ref, c.op, c.key, c.value, c.previous_value) for c in changes] == [
        (top, ADD, "v", 3.5, 1), (top, DELETE, "label", None, "one")]
    assert isinstance(changes[0], Change) and changes[0]._asdict()["key"] == "v"
    ref, ref_id, op, key, value, previous = changes[0]
    assert (ref, ref_id, op, key, value, previous) == (top, dec.ref_id(top), ADD, "v", 3.5, 1)


def test_the_reader_never_reads_outside_its_bytes() -> None:
    import pickle

    from pyseus.schema._reader import Reader

    r = Reader(b"\x01\x02")
    for pos in (-1, 2, 10):
        r.pos = pos
        assert r.peek() == -1
        with pytest.raises(DecodeError, match="unexpected end of data"):
            r.byte()
        with pytest.raises(DecodeError, match="needed 4 bytes"):
            r.primitive(11)        # float32
    with pytest.raises(AttributeError):
        r.end = 100                # type: ignore[misc]
    with pytest.raises(TypeError):
        pickle.dumps(r)            # it holds a pointer into its bytes


@settings(max_examples=300, deadline=500)
@given(st.binary(max_size=4096), st.booleans())
def test_patches_up_to_the_frame_size_raise_only_decode_error(data: bytes, strict: bool) -> None:
    root, dec = fresh()
    try:
        dec.decode(data)
    except DecodeError:
        pass


@pytest.mark.parametrize("claim", [
    b"\xdb\xff\xff\xff\xff",         # a string of 4 GiB
    b"\xd9\xff",                     # of 255 bytes, with 4 present
    b"\xdd\xff\xff\xff\xff",         # (not a string header: refused as such)
])
def test_lengths_claimed_in_a_patch_allocate_nothing(claim: bytes) -> None:
    import tracemalloc
    leaf = Leaf.__new__(Leaf)            # field #1 is "label", a string
    dec = Decoder(leaf)
    tracemalloc.start()
    try:
        with pytest.raises(DecodeError):
            dec.decode(bytes((int(ADD) | 1,)) + claim + b"abcd")
        assert tracemalloc.get_traced_memory()[1] < 1 << 20
    finally:
        tracemalloc.stop()
