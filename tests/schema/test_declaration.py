"""Declaring Schema classes and assigning their fields."""
from __future__ import annotations

import copy
import math
import pickle
from typing import ClassVar

import pytest

from pyseus.schema import (
    ArraySchema, Encoder, MapSchema, Schema, SchemaError, SetSchema, bigint64, biguint64, boolean,
    field, float32, float64, int8, int64, number, string, uint8, uint16, uint32, uint64,
)


class Player(Schema):
    x: float32 = 0.0
    y: float32 = 0.0
    name: string = ""
    hp: uint8 = 100


class State(Schema):
    players: MapSchema[Player]
    log: ArraySchema[string]
    tags: SetSchema[string]
    leader: Player | None = None
    extra: MapSchema[string] | None = None
    tick: uint32 = 0
    speed: float64 = field(default=1.5)
    items: ArraySchema[Player] = field(default_factory=ArraySchema)


def patch_of(make_changes, state=None) -> bytes:
    """The patch produced by make_changes(state) on a state whose changes were flushed."""
    state = state if state is not None else State()
    encoder = Encoder(state)
    encoder.discard()
    make_changes(state)
    return encoder.encode()


def test_fields_are_numbered_in_declaration_order_parent_first() -> None:
    class Base(Schema):
        a: number
        b: number

    class Child(Base):
        c: number

    assert [(f.name, f.index) for f in Child.__schema_info__.fields] == [("a", 0), ("b", 1), ("c", 2)]
    by_name = Child.__schema_info__.by_name
    assert by_name["c"].owner is Child and by_name["a"].owner is Base


def test_keyword_constructor_defaults_and_unset_fields() -> None:
    s = State(tick=3)
    assert s.tick == 3 and s.speed == 1.5 and s.leader is None and s.extra is None
    assert isinstance(s.players, MapSchema) and len(s.players) == 0
    assert isinstance(s.items, ArraySchema)
    assert State().players is not State().players
    with pytest.raises(TypeError, match="unexpected keyword argument 'nope'"):
        State(nope=1)


def test_defaults_travel_like_assignments() -> None:
    # a new Player() sends x, y, name and hp (field indexes 0..3, ADD each)
    state = State()
    player = Player()

    def add_player(s: State) -> None:
        s.players["p"] = player

    patch = patch_of(add_player, state)
    block = bytes([0xFF, player._refid]) + bytes.fromhex("8000000000 8100000000 82a0 8364".replace(" ", ""))
    assert patch.endswith(block)


def test_dataclass_transform_and_identity_semantics() -> None:
    assert Schema.__dataclass_transform__["eq_default"] is False
    assert Schema.__dataclass_transform__["kw_only_default"] is True
    a, b = Player(), Player()
    assert a != b and a == a and len({a, b, a}) == 2


def test_too_many_fields_is_refused_with_the_class_name() -> None:
    ns = {"__annotations__": {f"f{i}": number for i in range(64)}}
    with pytest.raises(SchemaError, match="Wide"):
        type("Wide", (Schema,), ns)

    class Sixty(Schema):
        __annotations__ = {f"f{i}": number for i in range(60)}

    with pytest.raises(SchemaError, match="TooWide.*64 fields"):
        type("TooWide", (Sixty,), {"__annotations__": {f"g{i}": number for i in range(4)}})


def test_nested_collection_is_refused_at_class_creation() -> None:
    with pytest.raises(SchemaError, match="cannot hold collections"):
        class Bad(Schema):
            m: MapSchema[MapSchema[string]]


@pytest.mark.parametrize("annotation", [list[int], "int | str", dict])
def test_unsupported_annotations_are_refused(annotation) -> None:
    with pytest.raises(SchemaError):
        type("Bad", (Schema,), {"__annotations__": {"f": annotation}})


def test_declaration_mistakes_are_refused() -> None:
    with pytest.raises(SchemaError, match="already declared by Player"):
        class Again(Player):
            x: float32 = 1.0
    with pytest.raises(SchemaError, match="used by Schema"):
        class Reserved(Schema):
            to_json: string
    with pytest.raises(SchemaError, match="default_factory"):
        class Shared(Schema):
            p: Player = Player()
    with pytest.raises(SchemaError, match="invalid default"):
        class BadDefault(Schema):
            hp: uint8 = 300


def test_private_and_classvar_names_are_not_fields() -> None:
    class Thing(Schema):
        _cache: dict
        limit: ClassVar[int] = 3
        value: number = 1

    assert [f.name for f in Thing.__schema_info__.fields] == ["value"]
    t = Thing()
    t._cache = {"free": True}      # ordinary attribute, never sent
    assert t.to_json() == {"value": 1}


def test_an_undeclared_name_is_refused_at_assignment() -> None:
    class Thing(Schema):
        __slots__ = ("own",)
        value: number = 1

        @property
        def double(self) -> float:
            return self.value * 2

        @double.setter
        def double(self, v: float) -> None:
            self.value = v / 2

    t = Thing()
    with pytest.raises(AttributeError, match=r"Thing has no field 'speed' \(its fields: value\)"):
        t.speed = 3                    # type: ignore[attr-defined]
    assert not hasattr(t, "speed")
    t.own = "slot of the class"        # the class's own slots and properties work as usual
    t.double = 10
    t._private = 1
    assert (t.own, t.value, t._private, t.to_json()) == ("slot of the class", 5, 1, {"value": 5})


def test_forward_references_resolve_on_first_use() -> None:
    class Node(Schema):
        children: ArraySchema["Node"]
        label: "string" = ""

    root = Node(label="root")
    root.children.append(Node(label="leaf"))
    assert root.to_json() == {"children": [{"children": [], "label": "leaf"}], "label": "root"}


def test_wrong_types_raise_type_error_naming_the_field() -> None:
    p = Player()
    with pytest.raises(TypeError, match=r"Player\.name: expected str, got int"):
        p.name = 5
    with pytest.raises(TypeError, match=r"Player\.x: expected a number, got str"):
        p.x = "1"
    with pytest.raises(TypeError, match=r"Player\.hp: expected an integer, got float"):
        p.hp = 1.0
    with pytest.raises(TypeError, match=r"Player\.hp: expected an integer, got bool"):
        p.hp = True
    with pytest.raises(TypeError, match=r"State\.leader: expected Player, got State"):
        State().leader = State()
    with pytest.raises(TypeError, match=r"State\.players: expected MapSchema\[Player\]"):
        State().players = ArraySchema()
    assert p.to_json() == {"x": 0.0, "y": 0.0, "name": "", "hp": 100}


@pytest.mark.parametrize("cls_field, value", [
    ((uint8, "u"), 256), ((uint8, "u"), -1), ((int8, "u"), 128), ((uint16, "u"), 65536),
    ((uint32, "u"), 2**32), ((int64, "u"), 2**63), ((uint64, "u"), -1), ((bigint64, "u"), -2**63 - 1),
    ((biguint64, "u"), 2**64),
])
def test_integers_out_of_range_raise_value_error(cls_field, value) -> None:
    t, name = cls_field
    cls = type("Ranged", (Schema,), {"__annotations__": {name: t}})
    with pytest.raises(ValueError, match=r"Ranged\.u: .* out of range"):
        setattr(cls(), name, value)


def test_accepted_edge_values() -> None:
    class Edge(Schema):
        f32: float32
        n: number
        i64: int64
        u64: uint64
        b64: biguint64
        s: string
        flag: boolean

    e = Edge()
    e.f32 = 3            # ints in float fields
    e.f32 = 1e39         # beyond float32: sent as infinity, stored as given
    e.n = math.nan
    e.n = math.inf
    e.i64 = 2**62
    e.u64 = 2**64 - 1
    e.b64 = 2**64 - 1
    e.s = ""
    e.flag = False
    assert e.f32 == 1e39 and e.u64 == 2**64 - 1

    class Index:
        def __index__(self) -> int:
            return 7

    e.i64 = Index()       # numpy-style integers
    assert e.i64 == 7 and type(e.i64) is int
    with pytest.raises(ValueError, match="too large"):
        e.n = 10**400
    with pytest.raises(ValueError, match="UTF-8"):
        e.s = "\ud800"
    with pytest.raises(TypeError, match="bool"):
        e.flag = 1


def test_float32_stores_what_it_is_given_and_rounds_on_the_wire() -> None:
    p = Player()
    p.x = 0.1
    assert p.x == 0.1
    s = State(leader=Player())
    patch = patch_of(lambda st: setattr(st.leader, "x", 0.1), s)
    assert patch == bytes([0xFF, s.leader._refid]) + bytes.fromhex("80cdcccc3d")


def test_equal_assignments_record_nothing_but_nan_always_does() -> None:
    s = State(leader=Player(x=0.0, name="a"))

    def same(st: State) -> None:
        st.leader.x = -0.0       # 0 == -0
        st.leader.name = "a"
        st.tick = 0
        st.speed = 1.5

    assert patch_of(same, s) == b""

    class N(Schema):
        v: float64 = math.nan

    n = N()
    assert patch_of(lambda obj: setattr(obj, "v", n.v), n) == bytes.fromhex("80000000000000f87f")


def test_none_and_del_delete_on_the_wire() -> None:
    s = State(leader=Player())
    assert patch_of(lambda st: setattr(st, "tick", None), s) == bytes.fromhex("45")
    assert s.tick is None
    assert patch_of(lambda st: delattr(st, "leader"), State(leader=Player())) == bytes.fromhex("43")
    # deleting a field that is not set records nothing
    assert patch_of(lambda st: setattr(st, "extra", None)) == b""


def test_plain_containers_are_converted_for_collection_fields() -> None:
    s = State()
    s.players = {"a": Player(name="A")}
    s.log = ["x", "y"]
    s.tags = {"t"}
    assert isinstance(s.players, MapSchema) and s.players.item_type.cls is Player
    assert s.to_json()["players"] == {"a": {"x": 0.0, "y": 0.0, "name": "A", "hp": 100}}
    assert s.log == ["x", "y"] and "t" in s.tags
    with pytest.raises(TypeError, match=r"MapSchema\[Player\] item: expected Player"):
        s.players = {"a": 1}


def test_untyped_collections_take_the_field_type() -> None:
    m = MapSchema({"k": "v"})
    assert m.item_type is None
    s = State()
    s.extra = m
    assert repr(m.item_type) == "string"
    with pytest.raises(TypeError):
        State().extra = MapSchema({"k": 1})


def test_to_json_repr_copy_and_pickle() -> None:
    s = State(tick=2, leader=Player(name="L"))
    s.players["a"] = Player(name="A", hp=5)
    s.log.append("hello")
    data = s.to_json()
    assert data["players"]["a"]["hp"] == 5 and data["leader"]["name"] == "L" and data["log"] == ["hello"]
    assert "extra" not in data
    assert repr(Player(name="A")) == "Player(x=0.0, y=0.0, name='A', hp=100)"
    for clone in (copy.deepcopy(s), pickle.loads(pickle.dumps(s))):
        assert clone is not s and clone.to_json() == data
        assert clone.players["a"] is not s.players["a"]
        Encoder(clone)      # a copy is untracked, so a new Encoder can take it


def test_fields_are_described_on_the_class() -> None:
    x, hp = Player.__schema_info__.by_name["x"], Player.__schema_info__.by_name["hp"]
    assert x.name == "x" and x.index == 0 and repr(x.type) == "float32"
    assert hp.default == 100 and hp.has_default


def test_field_values_live_in_slots_and_writes_are_tracked() -> None:
    class Slotted(Schema):
        __slots__ = ("m",)           # a class may keep slots of its own (laid out between
        name: string = "a"           # the fields': slots are sorted by name)
        hp: uint8 = 1

    s = Slotted()
    assert type(Slotted.__dict__["name"]).__name__ == "member_descriptor"
    s.m = [1]                        # own slot, untracked
    assert s.m == [1] and s.to_json() == {"name": "a", "hp": 1}
    s._note = "x"                    # instance __dict__, untracked
    del s._note
    enc = Encoder(s)
    enc.encode()
    s.hp = 2
    assert enc.has_changes and s.hp == 2 and s.to_json() == {"name": "a", "hp": 2}
    with pytest.raises(ValueError, match="Slotted.hp"):
        s.hp = 256
    assert s.hp == 2
    with pytest.raises(SchemaError, match="names the field 'hp'"):
        class Shadow(Slotted):
            __slots__ = ("hp",)


def test_a_slot_emptied_behind_the_encoders_back_is_an_error_not_a_crash() -> None:
    p = Player(name="a")
    Player.__dict__["name"].__delete__(p)     # bypasses the tracked path
    assert p.to_json()["x"] == 0.0 and "name" not in p.to_json()
    with pytest.raises(TypeError):
        Encoder(p).encode_all()
