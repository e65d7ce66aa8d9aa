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
