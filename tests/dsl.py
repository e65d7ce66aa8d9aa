"""A small language-neutral description of state classes and mutations.

The same format drives shared/spec/schema-vectors.json and the property tests;
tests/interop/dsl.mjs interprets it with the official JavaScript package, this
module with ours.

    types:  {Name: {"extends"?: Parent, "fields": [[name, type] or [name, type, view], ...]}}
            (view: true or an int tag: a view field, see pyseus.schema.StateView)
            type := primitive | Name | {"map"|"array"|"set"|"collection": primitive | Name}
    values: JSON scalar | null | {"num": "NaN"|"Infinity"|"-Infinity"|"-0"} | {"bigint": "123"}
            | {"new": Name, "fields": {...}, "as"?: alias} | {"map": {...}} | {"array"|"set"|"collection": [...]}
            | {"ref": alias}
    ops:    {"op": "set", "path", "value"} | {"op": "delete", "path"}
            | {"op": "call", "path", "method", "args"}     (JS method names; sort() = numeric descending)
"""
from __future__ import annotations

import math
import re
from typing import Any

from pyseus.schema import ArraySchema, CollectionSchema, MapSchema, Schema, SetSchema, field
from pyseus.schema._fieldtype import collection_type, primitive, ref_type

PRIMITIVES = {"string", "number", "boolean", "int8", "uint8", "int16", "uint16", "int32", "uint32",
              "int64", "uint64", "float32", "float64", "bigint64", "biguint64"}
KINDS = {"map": MapSchema, "array": ArraySchema, "set": SetSchema, "collection": CollectionSchema}


def build_classes(types: dict[str, Any]) -> dict[str, type]:
    """Schema classes for a `types` description; every field starts unset (no defaults)."""
    classes: dict[str, type] = {}

    def ftype(t: Any):
        if isinstance(t, str):
            return primitive(t) if t in PRIMITIVES else ref_type(classes[t])
        (kind, item), = t.items()
        return collection_type(kind, ftype(item))

    for name, spec in types.items():
        base = classes[spec["extends"]] if spec.get("extends") else Schema
        ns: dict[str, Any] = {"__module__": __name__, "__annotations__": {}}
        for fname, t, *view in spec["fields"]:
            ns["__annotations__"][fname] = ftype(t)
            ns[fname] = field(default=None, view=view[0]) if view and view[0] is not None else None
        classes[name] = type(name, (base,), ns)
    return classes


def scalar(v: Any) -> Any:
    """A DSL scalar (JSON value, {"num": ...} or {"bigint": ...}) as a Python value."""
    if isinstance(v, dict):
        if "num" in v:
            return {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf, "-0": -0.0}[v["num"]]
        if "bigint" in v:
            return int(v["bigint"])
    return v


class Interpreter:
    def __init__(self, classes: dict[str, type], root: Any) -> None:
        self.classes = classes
        self.root = root
        self.aliases: dict[str, Any] = {}

    def value(self, v: Any) -> Any:
        if not isinstance(v, dict) or "num" in v or "bigint" in v:
            return scalar(v)
        if "ref" in v:
            return self.aliases[v["ref"]]
        if "new" in v:
            obj = self.classes[v["new"]]()
            for k, fv in v.get("fields", {}).items():
                setattr(obj, k, self.value(fv))
            out = obj
        elif "map" in v:
            out = MapSchema()
            entries = v["map"].items() if isinstance(v["map"], dict) else v["map"]
            for k, iv in entries:
                out[k] = self.value(iv)
        else:
            (kind, items), = ((k, v[k]) for k in ("array", "set", "collection") if k in v)
            out = KINDS[kind]()
            for iv in items:
                (out.append if kind == "array" else out.add)(self.value(iv))
        if "as" in v:
            self.aliases[v["as"]] = out
        return out

    def navigate(self, path: list[Any]) -> Any:
        obj = self.root
        for key in path:
            obj = self.get(obj, key)
        return obj

    @staticmethod
    def get(obj: Any, key: Any) -> Any:
        if isinstance(obj, Schema):
            return getattr(obj, key)
        if isinstance(obj, (ArraySchema, CollectionSchema)):
            return obj[int(key)]
        return obj[key]

    def apply(self, op: dict[str, Any]) -> None:
        path = op["path"]
        if op["op"] == "call":
            target = self.navigate(path)
            self.call(target, op["method"], [self.value(a) for a in op.get("args", [])])
            return
        parent = self.navigate(path[:-1])
        key = path[-1]
        if op["op"] == "delete" or (op["op"] == "set" and op["value"] is None):
            if isinstance(parent, Schema):
                setattr(parent, key, None)
            elif isinstance(parent, ArraySchema):
                del parent[int(key)]
            else:
                del parent[key]
            return
        value = self.value(op["value"])
        if isinstance(parent, Schema):
            setattr(parent, key, value)
        elif isinstance(parent, ArraySchema):
            parent[int(key)] = value
        else:
            parent[key] = value

    @staticmethod
    def call(target: Any, method: str, args: list[Any]) -> None:
        if isinstance(target, ArraySchema):
            if method == "push":
                target.push(*args)
            elif method == "pop":
                target.pop()
            elif method == "shift":
                target.pop(0)
            elif method == "unshift":
                for a in reversed(args):
                    target.insert(0, a)
            elif method == "splice":
                start = args[0]
                count = args[1] if len(args) > 1 else len(target) - start
                target[start:start + count] = args[2:]
            elif method == "reverse":
                target.reverse()
            elif method == "sort":
                target.sort(reverse=True)
            elif method == "clear":
                target.clear()
            else:
                raise ValueError(method)
        elif isinstance(target, MapSchema):
            if method == "clear":
                target.clear()
            elif method == "set":
                target[args[0]] = args[1]
            elif method == "delete":
                target.pop(args[0], None)
            else:
                raise ValueError(method)
        else:
            if method == "add":
                target.add(args[0])
            elif method == "delete":
                target.discard(args[0])
            elif method == "clear":
                target.clear()
            else:
                raise ValueError(method)


_BIGINT = re.compile(r"^-?\d+n$")


def normalize_json(v: Any) -> Any:
    """JSON from the JS side -> comparable Python values ("12n" bigints -> int)."""
    if isinstance(v, dict):
        return {k: normalize_json(x) for k, x in v.items()}
    if isinstance(v, list):
        return [normalize_json(x) for x in v]
    if isinstance(v, str) and _BIGINT.match(v):
        return int(v[:-1])
    return v
