"""The reflection handshake."""
from __future__ import annotations

import pytest

from pyseus.schema._context import type_ids
from pyseus.schema import (
    ArraySchema, CollectionSchema, DecodeError, Decoder, Encoder, MapSchema, Reflection, Schema, SetSchema,
    float32, int64, number, string, uint8,
)


class Vec(Schema):
    x: float32 = 0.0
    y: float32 = 0.0


class Entity(Schema):
    pos: Vec | None = None


class Hero(Entity):
    name: string = ""


class Boss(Hero):
    rage: uint8 = 0


class Arena(Schema):
    main: Entity | None = None
    crowd: ArraySchema[Entity]
    scores: MapSchema[int64]
    tags: SetSchema[string]
    drops: CollectionSchema[Vec]


def test_class_and_instance_give_the_same_handshake() -> None:
    assert Reflection.encode(Arena) == Reflection.encode(Arena())


def test_decoded_classes_mirror_the_declarations() -> None:
    ids = type_ids(Arena)       # Arena 0, Entity 1, its subclasses, then Vec
    root = Reflection.decode(Reflection.encode(Arena))
    info = type(root).__schema_info__
    assert [(f.name, repr(f.type)) for f in info.fields] == [
        ("main", f"Type{ids[Entity]}"), ("crowd", f"ArraySchema[Type{ids[Entity]}]"),
        ("scores", "MapSchema[int64]"), ("tags", "SetSchema[string]"),
        ("drops", f"CollectionSchema[Type{ids[Vec]}]")]
    by_id = {tid: cls for cls, tid in type(root).__schema_type_ids__.items()}
    boss, hero, entity = by_id[ids[Boss]], by_id[ids[Hero]], by_id[ids[Entity]]
    assert [f.name for f in boss.__schema_info__.fields] == ["pos", "name", "rage"]
    assert issubclass(boss, hero) and issubclass(hero, entity)
    assert [repr(f.type) for f in by_id[ids[Vec]].__schema_info__.fields] == ["float32", "float32"]


def test_polymorphic_values_decode_into_the_right_classes() -> None:
    a = Arena()
    a.main = Boss(name="B", rage=9, pos=Vec(x=1))
    a.crowd.extend([Hero(name="h"), Entity()])
    enc = Encoder(a)
    root = Reflection.decode(Reflection.encode(a))
    Decoder(root).decode(enc.encode_all())
    ids = type_ids(Arena)
    assert root.to_json() == a.to_json()
    assert type(root.main).__name__ == f"Type{ids[Boss]}"
    assert type(root.crowd[0]).__name__ == f"Type{ids[Hero]}"


@pytest.mark.parametrize("data", [
    b"", b"\x80\x01", bytes.fromhex("8001ff01800002ff028203800081 05".replace(" ", "")),
    bytes.fromhex("8001ff01800002ff0282038000ff03800004ff0480a161 81a4626f6f6d".replace(" ", "")),
])
def test_bad_handshakes_raise_decode_error(data: bytes) -> None:
    with pytest.raises(DecodeError):
        Reflection.decode(data)


def test_field_names_that_clash_with_the_api_are_refused() -> None:
    # a handshake whose type has a field called "to_json"
    class Evil(Schema):
        to_json_: number

    data = Reflection.encode(Evil).replace(b"to_json_", b"_raw_get")
    with pytest.raises(DecodeError, match="used by Schema"):
        Reflection.decode(data)


def test_a_subclass_without_own_fields_is_sent_as_itself() -> None:
    class Plain(Hero):
        pass

    a = Arena(main=Plain(name="p"))
    enc = Encoder(a)
    root = Reflection.decode(Reflection.encode(a))
    Decoder(root).decode(enc.encode_all())
    assert root.to_json()["main"] == {"name": "p"}
    hero_cls = type(root.main).__mro__[1]
    assert type(root.main).__schema_info__.nfields == hero_cls.__schema_info__.nfields == 2
    assert type(root.main).__name__ != hero_cls.__name__


# ---- hostile handshakes (what a malicious server could send a client) -------------

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from pyseus.schema import reflection as reflection_module  # noqa: E402
from pyseus.schema.reflection import (  # noqa: E402
    _Reflection, _ReflectionField, _ReflectionType,
)


def _handshake(types: list[tuple[int, int | None, list[tuple[str, str, int | None]]]], root: int = 0) -> bytes:
    """A handshake written field by field: [(id, extends_id, [(name, type, referenced_type)])]."""
    r = _Reflection()
    for tid, extends, fields in types:
        t = _ReflectionType(id=tid)
        if extends is not None:
            t.extends_id = extends
        for name, type_name, ref in fields:
            f = _ReflectionField(name=name, type=type_name)
            if ref is not None:
                f.referenced_type = ref
            t.fields.append(f)
        r.types.append(t)
    if root:
        r.root_type = root
    return Encoder(r).encode_all()


def test_a_long_extends_chain_is_refused_quickly() -> None:
    # 2,500 classes each extending the previous one took over a minute to build
    for depth in (2500, 1000):
        data = _handshake([(i, i - 1 if i else None, [(f"f{i}", "number", None)]) for i in range(depth)],
                          root=depth - 1)
        with pytest.raises(DecodeError, match="types" if depth > reflection_module.MAX_TYPES else "levels deep"):
            Reflection.decode(data)
    within = reflection_module.MAX_EXTENDS_DEPTH
    data = _handshake([(i, i - 1 if i else None, [(f"f{i}", "number", None)]) for i in range(within)], root=within - 1)
    assert len(type(Reflection.decode(data)).__mro__) > within


@pytest.mark.parametrize("name", ["a-b", "__class__", "1x", "", "x y", "é\u200b"])
def test_field_names_python_cannot_take_are_refused(name: str) -> None:
    with pytest.raises(DecodeError):
        Reflection.decode(_handshake([(0, None, [(name, "number", None)])]))


def test_handshakes_beyond_the_bounds_are_refused() -> None:
    many_types = _handshake([(i, None, []) for i in range(reflection_module.MAX_TYPES + 1)])
    with pytest.raises(DecodeError, match="types"):
        Reflection.decode(many_types)
    many_fields = _handshake([(0, None, [(f"f{i}", "number", None) for i in range(reflection_module.MAX_FIELDS + 1)])])
    with pytest.raises(DecodeError, match="fields"):
        Reflection.decode(many_fields)
    with pytest.raises(DecodeError, match="bytes"):
        Reflection.decode(b"\x80" * (reflection_module.MAX_HANDSHAKE_BYTES + 1))


_names = st.one_of(st.sampled_from(["x", "y", "hp", "items", "to_json", "__init__", "class"]),
                   st.text(max_size=6))
_types = st.sampled_from(["number", "string", "boolean", "uint8", "float32", "ref", "map", "array", "set",
                          "collection", "array:number", "map:string", "array:nope", "nope", "", "ref:x"])
_ids = st.integers(min_value=-2, max_value=6)
_reflections = st.lists(
    st.tuples(_ids, st.one_of(st.none(), _ids),
              st.lists(st.tuples(_names, _types, st.one_of(st.none(), _ids)), max_size=4)),
    max_size=6)


@settings(max_examples=300, deadline=1000, suppress_health_check=[HealthCheck.too_slow])
@given(_reflections, _ids)
def test_arbitrary_handshakes_decode_or_raise_decode_error(types: list, root: int) -> None:
    try:
        data = _handshake([(abs(t), e, f) for t, e, f in types], root=abs(root))
    except (TypeError, ValueError):
        return          # (not writable as a handshake at all)
    try:
        state = Reflection.decode(data)
    except DecodeError:
        return
    assert isinstance(state, Schema) and Decoder(state).decode(b"") == []


@settings(max_examples=300, deadline=1000)
@given(st.data())
def test_corrupted_handshakes_raise_only_decode_error(data: st.DataObject) -> None:
    valid = bytearray(Reflection.encode(Arena, version=data.draw(st.sampled_from([3, 5]))))
    for _ in range(data.draw(st.integers(min_value=1, max_value=8))):
        at = data.draw(st.integers(min_value=0, max_value=len(valid) - 1))
        valid[at] = data.draw(st.integers(min_value=0, max_value=255))
    cut = data.draw(st.integers(min_value=0, max_value=len(valid)))
    try:
        Reflection.decode(bytes(valid[:cut]))
    except DecodeError:
        pass


@settings(max_examples=200, deadline=1000)
@given(st.binary(max_size=2048))
def test_random_bytes_as_a_handshake_raise_only_decode_error(data: bytes) -> None:
    try:
        Reflection.decode(data)
    except DecodeError:
        pass
