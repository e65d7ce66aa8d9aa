"""set_fields: columns of values assigned to many Schema instances, byte for byte the per-field path."""
from __future__ import annotations

import array
from collections.abc import Callable, Sequence
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pyseus.schema import (
    ArraySchema, Decoder, Encoder, MapSchema, Reflection, Schema, field, float32, float64, number,
    set_fields, string, uint8,
)


class Unit(Schema):
    x: float32 = 0.0
    y: float64 = 0.0
    hp: uint8 = 0
    name: string = ""


class Marker(Schema):              # another class with fields of the same names
    x: number = 0
    hp: uint8 = 0


class World(Schema):
    units: ArraySchema[Unit] = field(default_factory=ArraySchema)
    markers: MapSchema[Marker] = field(default_factory=MapSchema)


def world(units: int, markers: int) -> tuple[World, Encoder]:
    w = World()
    for i in range(units):
        w.units.append(Unit(x=float(i), hp=i % 200, name=f"u{i}"))
    for i in range(markers):
        w.markers[f"m{i}"] = Marker(x=i)
    enc = Encoder(w)
    enc.encode_all()
    enc.encode()
    return w, enc


def objects_of(w: World) -> list[Schema]:
    return [*w.units, *w.markers.values()]


def one_by_one(objects: Sequence[Schema], indices: Sequence[int] | None, columns: dict[str, Sequence[Any]]) -> None:
    # the documented order: for each object in column order, the fields in keyword order
    count = len(objects) if indices is None else len(indices)
    for j in range(count):
        for name, column in columns.items():
            setattr(objects[j if indices is None else indices[j]], name, column[j])


# how a column is handed over: every form set_fields takes
FORMS: dict[str, Callable[[str, list[Any]], Any]] = {
    "list": lambda name, values: values,
    "tuple": lambda name, values: tuple(values),
    "iterator": lambda name, values: iter(values),
    "array": lambda name, values: array.array("d" if name in ("x", "y") else "q", values),
    "float32 array": lambda name, values: (array.array("f", values) if name in ("x", "y")
                                           else array.array("B", values)),
    # a strided buffer of doubles (every other item of a twice-as-long array)
    "strided": lambda name, values: (memoryview(array.array("d", [v for value in values for v in (value, -1.0)]))[::2]
                                     if name in ("x", "y") else memoryview(array.array("q", values))),
}

INDEX_FORMS: dict[str, Callable[[list[int]], Any]] = {
    "list": lambda indices: indices,
    "array": lambda indices: array.array("q", indices),
    "strided": lambda indices: memoryview(array.array("q", [i for index in indices for i in (index, -1)]))[::2],
    "int32 array": lambda indices: array.array("i", indices),
}

floats = st.floats(-1e6, 1e6, allow_nan=False, width=32)


@st.composite
def bulk_updates(draw: st.DrawFn) -> tuple[int, int, list[int] | None, dict[str, list[Any]], str, str]:
    units, markers = draw(st.integers(0, 6)), draw(st.integers(0, 6))
    count = units + markers
    fields = ["x", "hp"] if markers else draw(st.permutations(["x", "y", "hp", "name"]))
    fields = fields[:draw(st.integers(1, len(fields)))]
    indices = draw(st.none() | st.lists(st.integers(0, max(count - 1, 0)), max_size=10)) if count else None
    n = count if indices is None else len(indices)
    values = {"x": floats, "y": floats, "hp": st.integers(0, 255), "name": st.text(max_size=5)}
    columns = {name: draw(st.lists(values[name], min_size=n, max_size=n)) for name in fields}
    form = draw(st.sampled_from(sorted(FORMS)))
    if "name" in columns and form not in ("list", "tuple", "iterator"):
        form = "list"
    return units, markers, indices, columns, form, draw(st.sampled_from(sorted(INDEX_FORMS)))


@settings(max_examples=300, deadline=None)
@given(bulk_updates())
def test_the_same_bytes_as_assigning_one_by_one(
        case: tuple[int, int, list[int] | None, dict[str, list[Any]], str, str]) -> None:
    units, markers, indices, columns, form, index_form = case
    bulk, bulk_enc = world(units, markers)
    plain, plain_enc = world(units, markers)
    given_indices = None if indices is None else INDEX_FORMS[index_form](indices)
    set_fields(objects_of(bulk), given_indices, **{name: FORMS[form](name, values) for name, values in columns.items()})
    if form == "float32 array":          # (what the buffer holds is the float32 of each value)
        columns = {name: list(FORMS[form](name, values)) for name, values in columns.items()}
    one_by_one(objects_of(plain), indices, columns)
    assert bulk_enc.encode() == plain_enc.encode()
    assert bulk.to_json() == plain.to_json()
    # and the next patch too (the change tracking was left as the assignments leave it)
    for w in (bulk, plain):
        for unit in w.units:
            unit.hp = 7
    assert bulk_enc.encode() == plain_enc.encode()


def test_a_client_decodes_the_bulk_patches() -> None:
    w, enc = world(4, 0)
    client = Reflection.decode(Reflection.encode(w))
    decoder = Decoder(client)
    decoder.decode(enc.encode_all())
    set_fields(list(w.units), [3, 0], x=array.array("d", [1.5, -2.25]), name=["c", "a"])
    decoder.decode(enc.encode())
    assert client.to_json() == w.to_json()
    assert [u["x"] for u in client.to_json()["units"]] == [-2.25, 1.0, 2.0, 1.5]


def test_bad_input_raises_a_clear_error() -> None:
    w, enc = world(3, 1)
    client = Reflection.decode(Reflection.encode(w))
    decoder = Decoder(client)
    decoder.decode(enc.encode_all())
    units = list(w.units)
    with pytest.raises(ValueError, match="out of range for uint8"):
        set_fields(units, hp=[1, 2, 300])
    assert [u.hp for u in units] == [1, 2, 2]        # (as a loop of assignments: up to the bad value)
    with pytest.raises(TypeError, match="str is not a Schema instance"):
        set_fields(["a"], x=[1.0])
    with pytest.raises(TypeError, match="is not a Schema instance"):
        set_fields(w.markers, x=[1.0])                # (a map iterates its keys: pass .values())
    with pytest.raises(AttributeError, match="Unit has no field 'z'"):
        set_fields(units, z=[1, 2, 3])
    with pytest.raises(ValueError, match="column 'x' has 2 values for 3 objects"):
        set_fields(units, x=array.array("d", [1.0, 2.0]))
    with pytest.raises(ValueError, match="column 'hp' has 1 values for 2 objects"):
        set_fields(units, [0, 1], hp=[1])
    with pytest.raises(IndexError, match=r"indices\[1\] = 3 is outside the 3 objects"):
        set_fields(units, [0, 3], hp=[1, 1])
    with pytest.raises(IndexError, match="outside"):
        set_fields(units, [-1], hp=[1])
    with pytest.raises(ValueError, match="expected one dimension"):
        set_fields(units, x=memoryview(array.array("d", [0.0] * 6)).cast("B").cast("d", (3, 2)))
    with pytest.raises(TypeError):
        set_fields(units, x=["a", "b", "c"])
    set_fields(units)                                  # no column: nothing to do
    set_fields([], x=[])
    # what was assigned before an error reaches clients like any assignment
    decoder.decode(enc.encode())
    assert client.to_json() == w.to_json() and [u["hp"] for u in client.to_json()["units"]] == [1, 2, 2]
