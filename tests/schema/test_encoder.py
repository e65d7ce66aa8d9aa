"""The Encoder: patches, full states, refIds and the lifecycle of structures."""
from __future__ import annotations

import pytest

from pyseus.schema import (
    ArraySchema, Decoder, EncodeError, Encoder, MapSchema, Reflection, Schema, float32, int8, int16,
    int32, number, string, uint8, uint16, uint32,
)
from pyseus.schema.wire import encode_primitive


class Vec(Schema):
    x: number = 0
    y: number = 0


class Unit(Schema):
    name: string = ""
    pos: Vec | None = None


class World(Schema):
    units: MapSchema[Unit]
    a: Vec | None = None
    b: Vec | None = None
    score: uint8 = 0


def client_for(state: Schema, encoder: Encoder) -> tuple[Schema, Decoder]:
    root = Reflection.decode(Reflection.encode(state))
    decoder = Decoder(root)
    decoder.decode(encoder.encode_all())
    return root, decoder


def test_encode_consumes_changes_and_encode_all_does_not() -> None:
    w = World()
    enc = Encoder(w)
    assert enc.has_changes
    full = enc.encode_all()
    assert enc.encode_all() == full and enc.has_changes
    first = enc.encode()
    assert first and not enc.has_changes and enc.encode() == b""
    w.score = 7
    assert enc.has_changes and enc.encode() == bytes([0x83, 7])
    w.score = 7
    assert not enc.has_changes


def test_shared_instance_has_one_refid_and_one_block() -> None:
    w = World()
    v = Vec()
    w.a = v
    w.b = v
    w.units["u"] = Unit(pos=v)
    enc = Encoder(w)
    enc.discard()
    v.x = 3
    assert enc.encode() == bytes([0xFF, v._refid, 0x80, 3])


def test_changes_made_before_attaching_are_sent_with_the_structure() -> None:
    w = World()
    enc = Encoder(w)
    root, dec = client_for(w, enc)
    enc.discard()
    u = Unit(name="early")
    u.pos = Vec(x=1)
    u.pos.y = 2
    w.units["u"] = u
    dec.decode(enc.encode())
    assert root.to_json()["units"]["u"] == {"name": "early", "pos": {"x": 1, "y": 2}}


def test_detached_then_reattached_structure_is_sent_whole_again() -> None:
    w = World()
    enc = Encoder(w)
    root, dec = client_for(w, enc)
    unit = Unit(name="u", pos=Vec(x=5))
    w.units["u"] = unit
    dec.decode(enc.encode())
    del w.units["u"]
    dec.decode(enc.encode())
    assert dec.ref_id(root.units) is not None and len(dec.refs) == 2   # the client freed the unit
    unit.pos.x = 6                                                      # changed while detached
    w.units["again"] = unit
    dec.decode(enc.encode())
    assert root.to_json()["units"] == {"again": {"name": "u", "pos": {"x": 6, "y": 0}}}


def test_replacing_a_collection_that_shares_items_keeps_them_alive() -> None:
    w = World()
    keep = Unit(name="keep", pos=Vec())
    w.units["k"] = keep
    enc = Encoder(w)
    root, dec = client_for(w, enc)
    enc.discard()
    w.units = MapSchema({"k2": keep})
    dec.decode(enc.encode())
    keep.name = "still here"
    dec.decode(enc.encode())
    assert root.to_json()["units"] == {"k2": {"name": "still here", "pos": {"x": 0, "y": 0}}}


def test_a_state_belongs_to_one_encoder_until_closed() -> None:
    w = World()
    w.a = Vec()
    enc = Encoder(w)
    with pytest.raises(EncodeError, match="already tracked"):
        Encoder(w)
    other = World()
    Encoder(other)
    with pytest.raises(EncodeError, match="another Encoder"):
        other.b = w.a          # a structure of one tracked state cannot join another one
    assert other.b is None
    enc.close()
    again = Encoder(w)
    root, _ = client_for(w, again)
    assert root.to_json() == w.to_json()


def test_classes_defined_after_the_encoder_are_refused() -> None:
    class Slot(Schema):
        v: Vec | None = None

    s = Slot()
    enc = Encoder(s)

    class Vec3(Vec):
        z: number = 0

    with pytest.raises(EncodeError, match="Vec3 is not among the types"):
        s.v = Vec3()
    assert s.v is None
    enc.encode()


def test_field_21_op_after_a_ref_add_gets_an_explicit_type_id() -> None:
    # DELETE_AND_ADD of field 21 is the byte 0xd5, which the decoder would read as a
    # TYPE_ID right after the refId of an added instance.
    Wide = type("Wide", (Schema,), {"__annotations__": {
        "first": Vec | None, **{f"f{i}": number for i in range(1, 21)}, "twentyone": number}})
    assert Wide.__schema_info__.by_name["twentyone"].index == 21
    w = Wide()
    w.twentyone = 1
    enc = Encoder(w)
    root, dec = client_for(w, enc)
    enc.discard()
    vec = Vec(x=4)
    w.first = vec           # ADD of field 0, then ...
    w.twentyone = None
    w.twentyone = 2         # ... DELETE_AND_ADD of field 21, the byte 0xd5
    patch = enc.encode()
    assert patch == bytes([0x80, vec._refid, 0xD5, 0x01, 0xD5, 0x02, 0xFF, vec._refid, 0x80, 4, 0x81, 0])
    dec.decode(patch)
    assert root.to_json()["twentyone"] == 2 and root.to_json()["first"] == {"x": 4, "y": 0}


@pytest.mark.parametrize("value, wire", [
    (0, "00"), (127, "7f"), (128, "cc80"), (65536, "ce00000100"), (2147483648, "ca0000004f"),
    (4294967295, "cb0000e0ffffffef41"), (-1, "ff"), (-33, "d0df"), (-2147483649, "cb000020000000e0c1"),
    (0.5, "ca0000003f"), (0.1, "cacdcccc3d"), (1e20, "cb408cb5781daf1544"), (float("nan"), "00"),
    (float("inf"), "cbffffffffffff3f43"), (float("-inf"), "cbffffffffffff3fc3"), (-0.0, "00"),
    (2**60, "ca0000805d"), (3.0, "03"),
])
def test_number_encoding(value, wire) -> None:
    assert encode_primitive("number", value).hex() == wire


@pytest.mark.parametrize("type_name, value, wire", [
    ("string", "x" * 255, "d9ff" + "78" * 255), ("string", "é", "a2c3a9"),
    ("float32", 1e39, "0000807f"), ("float32", -1e39, "000080ff"), ("float32", float("nan"), "0000c07f"),
    ("int64", -(2**40), "00000000" + "00ffffff"), ("uint64", 2**64 - 1, "ff" * 8),
    ("int64", 2**63 - 1, "ffffffffffffff7f"), ("bigint64", -2, "fe" + "ff" * 7), ("boolean", True, "01"),
])
def test_primitive_encoding(type_name, value, wire) -> None:
    assert encode_primitive(type_name, value).hex() == wire


class Widths(Schema):
    i8: int8 = 0
    u8: uint8 = 0
    i16: int16 = 0
    u16: uint16 = 0
    i32: int32 = 0
    u32: uint32 = 0
    f32: float32 = 0.0


WIDTH_EDGES = {
    "i8": (-128, "80"), "u8": (255, "ff"), "i16": (-32768, "0080"), "u16": (65535, "ffff"),
    "i32": (-2147483648, "00000080"), "u32": (4294967295, "ffffffff"), "f32": (-1.5, "0000c0bf"),
}


def test_fixed_width_fields_keep_their_wire_bytes_at_assignment() -> None:
    # The patch walk writes these from bytes kept at assignment; they must be the
    # bytes of the generic primitive writer, in patches and full states.
    w = Widths()
    enc = Encoder(w)
    enc.encode()
    for name, (value, wire) in WIDTH_EDGES.items():
        setattr(w, name, value)
    patch = enc.encode()
    full = enc.encode_all()
    expected = "".join(f"{0x80 | i:02x}{wire}" for i, (value, wire) in enumerate(WIDTH_EDGES.values()))
    assert patch.hex() == expected
    assert full.hex() == "".join(f"{0x80 | i:02x}{encode_primitive(t, v).hex()}" for i, (t, v) in enumerate(
        zip(("int8", "uint8", "int16", "uint16", "int32", "uint32", "float32"),
            (v for v, _ in WIDTH_EDGES.values()))))
