"""Schema classes for the codegen tests: inheritance, every collection, refs, number types."""
from __future__ import annotations

from pyseus.schema import (ArraySchema, CollectionSchema, MapSchema, Schema, SetSchema, field, float32, float64,
                           int8, int16, int32, int64, number, string, uint8, uint16, uint32, uint64)


class Item(Schema):
    label: string = ""
    weight: float64 = 0.0


class Entity(Schema):
    x: float32 = 0.0
    y: float32 = 0.0


class Hero(Entity):
    name: string = ""
    level: uint8 = 1
    alive: bool = True
    bag: ArraySchema[Item] = field(default_factory=ArraySchema)
    tags: SetSchema[string] = field(default_factory=SetSchema)


class Arena(Schema):
    heroes: MapSchema[Hero] = field(default_factory=MapSchema)
    champion: Hero | None = None
    scores: ArraySchema[int32] = field(default_factory=ArraySchema)
    loot: CollectionSchema[Item] = field(default_factory=CollectionSchema)
    small: int8 = 0
    medium: int16 = 0
    wide: uint16 = 0
    big: uint32 = 0
    bigger: int64 = 0
    biggest: uint64 = 0
    ratio: number = 0.0


# what the Unity SDK decodes (maps and arrays, no big ints)
class Piece(Schema):
    x: float32 = 0.0
    y: float32 = 0.0


class Unit(Piece):
    name: string = ""
    hp: uint8 = 100
    items: ArraySchema[Item] = field(default_factory=ArraySchema)
    stats: MapSchema[int32] = field(default_factory=MapSchema)


class Board(Schema):
    units: MapSchema[Unit] = field(default_factory=MapSchema)
    leader: Unit | None = None
    scores: ArraySchema[float32] = field(default_factory=ArraySchema)
    turn: uint64 = 0
