"""MapSchema, ArraySchema, SetSchema and CollectionSchema behave like their Python
counterparts, and every mutation reaches a decoder intact (checked against a
plain list / dict / set model after each patch)."""
from __future__ import annotations

from collections import Counter
from collections.abc import MutableMapping, MutableSequence, MutableSet

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pyseus.schema import (
    ArraySchema, CollectionSchema, Decoder, Encoder, MapSchema, Reflection, Schema, SetSchema, int32,
    number, string,
)


class Item(Schema):
    n: number = 0


class Bag(Schema):
    nums: ArraySchema[int32]
    things: ArraySchema[Item]
    words: MapSchema[string]
    items: MapSchema[Item]
    tags: SetSchema[string]
    pile: CollectionSchema[int32]


class Mirror:
    """A server state with an encoder and a decoding client (joins at the start)."""

    def __init__(self) -> None:
        self.state = Bag()
        self.encoder = Encoder(self.state)
        self.client = Reflection.decode(Reflection.encode(self.state))
        self.decoder = Decoder(self.client)
        self.decoder.decode(self.encoder.encode_all())
        self.encoder.discard()

    def sync(self) -> dict:
        self.decoder.decode(self.encoder.encode())
        late = Reflection.decode(Reflection.encode(self.state))
        Decoder(late).decode(self.encoder.encode_all())
        assert late.to_json() == self.client.to_json()
        return self.client.to_json()


def test_collections_register_with_the_abcs() -> None:
    assert isinstance(MapSchema(), MutableMapping)
    assert isinstance(ArraySchema(), MutableSequence)
    assert isinstance(SetSchema(), MutableSet)


def test_typed_constructors_and_repr() -> None:
    m = MapSchema[Item]({"a": Item(n=1)})
    a = ArraySchema[string](["x", "y"])
    s = SetSchema[string](["x", "x"])
    c = CollectionSchema[int32]([1, 1])
    assert repr(m.item_type) == "Item" and list(m) == ["a"]
    assert a == ["x", "y"] and len(s) == 1 and c == [1, 1]
    assert repr(a) == "ArraySchema[string](['x', 'y'])"
    with pytest.raises(TypeError, match=r"ArraySchema\[string\] item: expected str"):
        a.append(1)
    with pytest.raises(TypeError, match="cannot be None"):
        a.append(None)
    with pytest.raises(TypeError, match="keys must be str"):
        m[1] = Item()


def test_map_api() -> None:
    m = MapSchema[int32]()
    m["b"] = 1
    m.update({"a": 2}, c=3)
    assert list(m.items()) == [("b", 1), ("a", 2), ("c", 3)]
    assert m.setdefault("d", 4) == 4 and m.setdefault("d", 5) == 4
    assert m.pop("b") == 1 and m.pop("zz", None) is None
    assert m.popitem() == ("d", 4)
    assert m.get("a") == 2 and "a" in m and "b" not in m and len(m) == 2
    with pytest.raises(KeyError):
        del m["zz"]
    assert m == {"a": 2, "c": 3} and m.copy() == m and m.copy() is not m
    m.clear()
    assert m.to_json() == {}


def test_array_api() -> None:
    a = ArraySchema[int32]([5, 1, 4])
    a.append(2)
    a.extend([9])
    a.insert(0, 7)
    a.insert(-1, 8)
    assert a == [7, 5, 1, 4, 2, 8, 9]
    assert a[1] == 5 and a[-1] == 9 and a[1:3] == [5, 1]
    a[1:3] = [0, 0, 0]
    del a[0]
    a.remove(0)
    assert a == [0, 0, 4, 2, 8, 9] and a.index(4) == 2 and a.count(0) == 2
    assert a.pop() == 9 and a.pop(0) == 0
    a.sort()
    assert a == [0, 2, 4, 8]
    a.sort(reverse=True)
    a.reverse()
    assert a == [0, 2, 4, 8] and list(reversed(a)) == [8, 4, 2, 0]
    a[::2] = [10, 11]
    assert a == [10, 2, 11, 8]
    with pytest.raises(ValueError):
        a[::2] = [1]
    del a[::2]
    assert a == [2, 8] and a.push(3, 4) == 4
    with pytest.raises(IndexError):
        a[10] = 1
    a.clear()
    with pytest.raises(IndexError):
        a.pop()


def test_set_and_collection_api() -> None:
    s = SetSchema[string](["a", "b"])
    s.add("a")
    s |= {"c"}
    assert s == {"a", "b", "c"} and s & {"a", "z"} == {"a"} and s - {"a"} == {"b", "c"}
    s.discard("zz")
    s.remove("b")
    with pytest.raises(KeyError):
        s.remove("b")
    s -= {"c"}
    assert s == {"a"} and s.pop() == "a" and len(s) == 0
    c = CollectionSchema[int32]([3, 3, 4])
    c.remove(3)
    assert c == [3, 4] and c.count(3) == 1 and c[0] == 3
    with pytest.raises(ValueError):
        c.remove(99)


def test_a_collection_has_one_parent() -> None:
    b = Bag()
    words = b.words
    with pytest.raises(ValueError, match="only one parent"):
        Bag().words = words
    b.words = None            # detached: it may go elsewhere now
    other = Bag()
    other.words = words
    assert other.words is words


def test_clear_is_one_operation_on_the_wire() -> None:
    m = Mirror()
    m.state.nums.extend(range(50))
    m.state.words.update({f"k{i}": "v" for i in range(50)})
    m.sync()
    m.state.nums.clear()
    m.state.words.clear()
    patch = m.encoder.encode()
    assert patch == bytes([0xFF, m.state.nums._refid, 0x0A, 0xFF, m.state.words._refid, 0x0A])


array_ops = st.lists(st.one_of(
    st.tuples(st.just("append"), st.integers(-5, 5)),
    st.tuples(st.just("insert"), st.integers(-8, 8), st.integers(-5, 5)),
    st.tuples(st.just("pop"), st.integers(-8, 8)),
    st.tuples(st.just("set"), st.integers(-8, 8), st.integers(-5, 5)),
    st.tuples(st.just("splice"), st.integers(0, 8), st.integers(0, 3), st.lists(st.integers(-5, 5), max_size=3)),
    st.tuples(st.just("reverse")), st.tuples(st.just("sort")), st.tuples(st.just("clear")),
    st.tuples(st.just("sync")),
), max_size=25)


def _apply_list(target: list | ArraySchema, op: tuple, make=lambda v: v, key=None) -> None:
    kind = op[0]
    n = len(target)
    if kind == "append":
        target.append(make(op[1]))
    elif kind == "insert":
        target.insert(op[1], make(op[2]))
    elif kind == "pop" and n:
        target.pop(op[1] % n)
    elif kind == "set" and n:
        target[op[1] % n] = make(op[2])
    elif kind == "splice":
        target[op[1]:op[1] + op[2]] = [make(v) for v in op[3]]
    elif kind == "reverse":
        target.reverse()
    elif kind == "sort":
        target.sort(key=key)
    elif kind == "clear":
        target.clear()


@settings(max_examples=400, deadline=None)
@given(array_ops)
def test_arrays_follow_a_list_model(ops) -> None:
    m = Mirror()
    model: list[int] = []
    for op in ops:
        if op[0] == "sync":
            got = m.sync()
            assert got["nums"] == model
            assert [t["n"] for t in got["things"]] == model
            continue
        _apply_list(model, op)
        _apply_list(m.state.nums, op)
        _apply_list(m.state.things, op, make=lambda v: Item(n=v), key=lambda item: item.n)
        assert list(m.state.nums) == model
    got = m.sync()
    assert got["nums"] == model and [t["n"] for t in got["things"]] == model


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(
    st.tuples(st.just("set"), st.sampled_from("abcde"), st.integers(0, 3)),
    st.tuples(st.just("del"), st.sampled_from("abcde")),
    st.tuples(st.just("clear")), st.tuples(st.just("sync")),
), max_size=30))
def test_maps_follow_a_dict_model(ops) -> None:
    m = Mirror()
    model: dict[str, int] = {}
    for op in ops:
        if op[0] == "set":
            model[op[1]] = op[2]
            m.state.words[op[1]] = str(op[2])
            m.state.items[op[1]] = Item(n=op[2])
        elif op[0] == "del" and op[1] in model:
            del model[op[1]]
            del m.state.words[op[1]]
            del m.state.items[op[1]]
        elif op[0] == "clear":
            model.clear()
            m.state.words.clear()
            m.state.items.clear()
        elif op[0] == "sync":
            got = m.sync()
            assert got["words"] == {k: str(v) for k, v in model.items()}
            assert {k: v["n"] for k, v in got["items"].items()} == model
    assert list(m.state.words) == list(model)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(
    st.tuples(st.just("add"), st.integers(0, 4)), st.tuples(st.just("remove"), st.integers(0, 4)),
    st.tuples(st.just("clear")), st.tuples(st.just("sync")),
), max_size=30))
def test_sets_and_collections_follow_their_models(ops) -> None:
    m = Mirror()
    model_set: set[str] = set()
    model_bag: Counter[int] = Counter()
    for op in ops:
        if op[0] == "add":
            model_set.add(str(op[1]))
            model_bag[op[1]] += 1
            m.state.tags.add(str(op[1]))
            m.state.pile.add(op[1])
        elif op[0] == "remove":
            model_set.discard(str(op[1]))
            m.state.tags.discard(str(op[1]))
            if model_bag[op[1]]:
                model_bag[op[1]] -= 1
                m.state.pile.remove(op[1])
        elif op[0] == "clear":
            model_set.clear()
            model_bag.clear()
            m.state.tags.clear()
            m.state.pile.clear()
        else:
            got = m.sync()
            assert sorted(got["tags"]) == sorted(model_set)
            assert Counter(got["pile"]) == +model_bag
