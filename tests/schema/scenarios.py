"""Hypothesis strategies: random Schema class shapes and random mutation sequences.

Mutations are drawn against a live Python state (so every drawn operation is
valid for the current contents) and recorded in the DSL of tests/dsl.py, so the
same sequence can be replayed by the JavaScript package.
"""
from __future__ import annotations

import math
from typing import Any

from hypothesis import strategies as st

from pyseus.schema import ArraySchema, CollectionSchema, MapSchema, Schema, SetSchema
from pyseus.schema._schema_core import SchemaCore
from pyseus.schema.wire import Reader, encode_primitive
from tests.dsl import PRIMITIVES, Interpreter, build_classes, scalar

PRIMS = sorted(PRIMITIVES)
INT_RANGES = {
    "int8": (-128, 127), "uint8": (0, 255), "int16": (-32768, 32767), "uint16": (0, 65535),
    "int32": (-2**31, 2**31 - 1), "uint32": (0, 2**32 - 1),
    "int64": (-2**63, 2**63 - 1), "uint64": (0, 2**64 - 1),
    "bigint64": (-2**63, 2**63 - 1), "biguint64": (0, 2**64 - 1),
}
# what a JS number holds exactly (for scenarios the JS encoder replays)
JS_SAFE = {"int64": (-2**53, 2**53), "uint64": (0, 2**53)}
KEYS = ["a", "b", "c", "k1", "k2", "", "é", "long-key-" + "x" * 40]
CODES = {name: i for i, name in enumerate(
    ["string", "number", "boolean", "int8", "uint8", "int16", "uint16", "int32", "uint32",
     "int64", "uint64", "float32", "float64", "bigint64", "biguint64"])}


# ---------------------------------------------------------------- class shapes

def _field_type(names: list[str]) -> st.SearchStrategy[Any]:
    prim = st.sampled_from(PRIMS)
    if not names:
        item = prim
    else:
        item = st.one_of(prim, st.sampled_from(names))
    coll = st.builds(lambda kind, i: {kind: i}, st.sampled_from(["map", "array", "set", "collection"]), item)
    if not names:
        return st.one_of(prim, prim, coll)
    return st.one_of(prim, prim, st.sampled_from(names), coll, coll)


@st.composite
def type_specs(draw: Any, empty_subclasses: bool = True) -> dict[str, Any]:
    """{Name: {"extends"?, "fields"}}; classes only refer to earlier ones; "State" is last.

    The JS package cannot send a subclass that declares no field of its own
    (it is not registered), so scenarios for it have none."""
    types: dict[str, Any] = {}
    names: list[str] = []
    for i in range(draw(st.integers(0, 4))):
        name = f"C{i}"
        spec: dict[str, Any] = {"fields": []}
        if names and draw(st.integers(0, 2)) == 0:
            spec["extends"] = draw(st.sampled_from(names))
        n = draw(st.integers(0 if "extends" in spec and empty_subclasses else 1, 4))
        spec["fields"] = [[f"{name.lower()}_{j}", draw(_field_type(names))] for j in range(n)]
        types[name] = spec
        names.append(name)
    n = draw(st.integers(1, 10))    # past 8 fields, an instance keeps its field records on the heap
    types["State"] = {"fields": [[f"s_{j}", draw(_field_type(names))] for j in range(n)]}
    return types


# ---------------------------------------------------------------- values

def primitive_values(name: str, js_safe: bool) -> st.SearchStrategy[Any]:
    if name == "string":
        strings = st.one_of(st.text(max_size=12), st.text(alphabet="ab", min_size=250, max_size=260))
        if js_safe:   # the 3.x encoder corrupts strings of exactly 255 UTF-8 bytes
            strings = strings.filter(lambda s: len(s.encode()) != 255)
        return strings
    if name == "boolean":
        return st.booleans()
    # (NaN breaks the 3.x encoder's array bookkeeping, which finds items with ===)
    nan = not js_safe
    if name in ("float32", "float64"):
        return st.floats(allow_nan=nan, allow_infinity=True, width=32 if name == "float32" else 64) \
            | st.floats(min_value=-1e6, max_value=1e6)
    if name == "number":
        return st.one_of(st.integers(-2**31, 2**31 - 1), st.integers(-2**53, 2**53),
                         st.floats(allow_nan=nan, allow_infinity=True))
    low, high = JS_SAFE.get(name, INT_RANGES[name]) if js_safe else INT_RANGES[name]
    return st.one_of(st.integers(low, high), st.integers(max(low, -300), min(high, 300)))


def dsl_scalar(name: str, v: Any) -> Any:
    if name in ("bigint64", "biguint64"):
        return {"bigint": str(v)}
    if isinstance(v, float):
        if math.isnan(v):
            return {"num": "NaN"}
        if math.isinf(v):
            return {"num": "Infinity" if v > 0 else "-Infinity"}
        if v == 0 and math.copysign(1, v) < 0:
            return {"num": "-0"}
    return v


def wire_roundtrip(name: str, v: Any) -> Any:
    """What a decoder reads back for primitive `v` of type `name`."""
    return Reader(encode_primitive(name, v)).primitive(CODES[name])


def wire_json(obj: Any) -> Any:
    """A server state as a decoder should see it (primitives rounded like the wire)."""
    if isinstance(obj, SchemaCore):
        out = {}
        for f in type(obj).__schema_info__.fields:
            v = getattr(obj, f.name)
            if v is not None:
                out[f.name] = _wire_value(f.type, v)
        return out
    raise TypeError(obj)


def _wire_value(ftype: Any, v: Any) -> Any:
    if ftype.is_primitive:
        return wire_roundtrip(ftype.name, v)
    if ftype.is_ref:
        return wire_json(v)
    if isinstance(v, MapSchema):
        return {k: _wire_value(ftype.child, x) for k, x in v.items()}
    return [_wire_value(ftype.child, x) for x in v]


# ---------------------------------------------------------------- mutations

class Driver:
    """Draws valid mutations against a live state and records them as DSL ops."""

    def __init__(self, draw: Any, types: dict[str, Any], replay_in_js: bool = False,
                 strings: st.SearchStrategy[str] | None = None) -> None:
        # replay_in_js: the ops will also be run by the JS 3.x encoder, so only
        # draw what it encodes correctly (see spec sections 6.3, 6.4 and 14).
        # strings: where string values come from (the view tests use markers).
        self.draw = draw
        self.strings = strings
        self.types = types
        self.js_safe = replay_in_js
        self.replay_in_js = replay_in_js
        self.encoder_started = False
        self.touched_arrays: set[int] = set()
        self.deleted_keys: set[tuple[int, str]] = set()
        self.classes = build_classes(types)
        self.state = self.classes["State"]()
        self.interp = Interpreter(self.classes, self.state)
        self.objects: list[tuple[str, Any]] = []     # (alias, object) created so far
        self.count = 0
        self.subclasses = {n: [m for m in types if self._extends(m, n)] for n in types}

    def _extends(self, name: str, base: str) -> bool:
        while name:
            if name == base:
                return True
            name = self.types[name].get("extends")
        return False

    def _fields_of(self, name: str) -> list[list[Any]]:
        spec = self.types[name]
        inherited = self._fields_of(spec["extends"]) if spec.get("extends") else []
        return inherited + [f[:2] for f in spec["fields"]]

    # values -------------------------------------------------------------

    def value(self, t: Any, depth: int = 0, container: Any = None) -> Any:
        """A DSL value of type t (may reuse an existing instance)."""
        d = self.draw
        if isinstance(t, str) and t in PRIMITIVES:
            if t == "string" and self.strings is not None:
                return d(self.strings)
            return dsl_scalar(t, d(primitive_values(t, self.js_safe)))
        if isinstance(t, str):
            reusable = [(a, o) for a, o in self.objects
                        if isinstance(o, self.classes[t]) and not self._would_cycle(o, container)]
            if self.replay_in_js:
                reusable = []
            if reusable and d(st.integers(0, 3)) == 0:
                return {"ref": d(st.sampled_from(reusable))[0]}
            cls_name = d(st.sampled_from(self.subclasses[t]))
            fields = {}
            if depth < 2:
                for fname, ft in self._fields_of(cls_name):
                    if d(st.integers(0, 2)) > 0:
                        fields[fname] = self.value(ft, depth + 1, container)
            return self._alias({"new": cls_name, "fields": fields})
        (kind, item), = t.items()
        n = d(st.integers(0, 3 if depth < 2 else 0))
        if (self.replay_in_js and self.encoder_started and kind in ("set", "collection")
                and not (isinstance(item, str) and item in PRIMITIVES)):
            n = 0   # 3.x writes the items' blocks before the ops that introduce them
        items = [self.value(item, depth + 1, container) for _ in range(n)]
        if kind == "set" and isinstance(item, str) and item in PRIMITIVES:
            items = _wire_distinct(item, items)
            n = len(items)
        if kind == "map":
            keys = d(st.lists(st.sampled_from(KEYS), min_size=n, max_size=n, unique=True))
            return self._alias({"map": [[k, v] for k, v in zip(keys, items)]})
        return self._alias({kind: items})

    def _alias(self, v: dict[str, Any]) -> dict[str, Any]:
        self.count += 1
        v["as"] = f"o{self.count}"
        return v

    def _would_cycle(self, obj: Any, container: Any) -> bool:
        if container is None:
            return False
        if obj is container:
            return True
        stack, seen = [obj], set()
        while stack:
            x = stack.pop()
            if id(x) in seen:
                continue
            seen.add(id(x))
            if x is container:
                return True
            stack.extend(_children(x))
        return False

    # ops ----------------------------------------------------------------------

    def structures(self) -> list[tuple[list[Any], Any, Any]]:
        """(path, structure, declared type) of everything reachable by path."""
        out = [([], self.state, "State")]
        i = 0
        while i < len(out):
            path, obj, t = out[i]
            i += 1
            if isinstance(obj, Schema):
                for fname, ft in self._fields_of(_type_name(self.classes, obj)):
                    v = getattr(obj, fname)
                    if v is not None and not (isinstance(ft, str) and ft in PRIMITIVES):
                        out.append((path + [fname], v, ft))
            elif isinstance(obj, MapSchema):
                item = next(iter(t.values()))
                if not (isinstance(item, str) and item in PRIMITIVES):
                    out.extend((path + [k], v, item) for k, v in obj.items())
            elif isinstance(obj, (ArraySchema, CollectionSchema)):
                item = next(iter(t.values()))
                if not (isinstance(item, str) and item in PRIMITIVES):
                    out.extend((path + [i], v, item) for i, v in enumerate(obj))
            if len(out) > 60:
                break
        return out

    def op(self) -> dict[str, Any] | None:
        d = self.draw
        path, obj, t = d(st.sampled_from(self.structures()))
        if isinstance(obj, Schema):
            fields = self._fields_of(_type_name(self.classes, obj))
            if not fields:
                return None
            fname, ft = d(st.sampled_from(fields))
            if d(st.integers(0, 5)) == 0:
                return {"op": "set", "path": path + [fname], "value": None}
            return {"op": "set", "path": path + [fname], "value": self.value(ft, container=obj)}
        item = next(iter(t.values()))
        numeric = isinstance(item, str) and item in PRIMITIVES and item not in ("string", "boolean")
        if isinstance(obj, MapSchema):
            choice = d(st.sampled_from(["set", "set", "set", "delete", "clear"]))
            if choice == "clear":
                return {"op": "call", "path": path, "method": "clear", "args": []}
            if choice == "delete" and len(obj):
                key = d(st.sampled_from(list(obj.keys())))
                self.deleted_keys.add((id(obj), key))
                return {"op": "delete", "path": path + [key]}
            key = d(st.sampled_from(KEYS))
            if self.replay_in_js and (id(obj), key) in self.deleted_keys:
                return None   # 3.x loses the key of a map entry deleted and set again in one patch
            return {"op": "set", "path": path + [key], "value": self.value(item, 1, container=obj)}
        if isinstance(obj, ArraySchema):
            if self.replay_in_js:
                if id(obj) in self.touched_arrays:
                    return None   # 3.x mis-encodes several array ops in one patch
                self.touched_arrays.add(id(obj))
                methods = ["push", "pop", "shift", "splice", "setitem", "clear"]
            else:
                methods = ["push", "push", "pop", "shift", "unshift", "splice", "setitem", "reverse", "clear"]
                if numeric:
                    methods.append("sort")
            m = d(st.sampled_from(methods))
            n = len(obj)
            if m in ("pop", "shift") and not n:
                return None
            if m == "setitem":
                if not n:
                    return None
                return {"op": "set", "path": path + [d(st.integers(0, n - 1))],
                        "value": self.value(item, 1, container=obj)}
            if m in ("push", "unshift"):
                count = 1 if self.replay_in_js else d(st.integers(1, 2))
                args = [self.value(item, 1, container=obj) for _ in range(count)]
                return {"op": "call", "path": path, "method": m, "args": args}
            if m == "splice":
                start = d(st.integers(0, n))
                count = d(st.integers(0, n - start))
                most = count if self.replay_in_js else 2
                ins = [self.value(item, 1, container=obj) for _ in range(d(st.integers(0, most)))]
                return {"op": "call", "path": path, "method": "splice", "args": [start, count] + ins}
            return {"op": "call", "path": path, "method": m, "args": []}
        # set / collection
        m = d(st.sampled_from(["add", "add", "delete", "clear"]))
        if m == "add" and self.replay_in_js and self.encoder_started and not numeric and item not in PRIMITIVES:
            return None   # 3.x writes a new item's block before the op that introduces it
            return {"op": "call", "path": path, "method": "add", "args": [self.value(item, 1, container=obj)]}
        if m == "delete" and len(obj):
            victim = d(st.sampled_from(list(obj)))
            alias = self._alias_of(victim)
            if alias is None:
                if isinstance(victim, SchemaCore):
                    return None
                arg = dsl_scalar(item, victim)
            else:
                arg = {"ref": alias}
            return {"op": "call", "path": path, "method": "delete", "args": [arg]}
        return {"op": "call", "path": path, "method": "clear", "args": []}

    def _alias_of(self, obj: Any) -> str | None:
        for a, o in self.objects:
            if o is obj:
                return a
        return None

    def apply(self, op: dict[str, Any]) -> bool:
        """Apply to the Python state; False (and nothing changed) when the op is refused."""
        try:
            self.interp.apply(op)
        except (TypeError, ValueError) as e:
            if "only one parent" in str(e) or "already held" in str(e):
                return False
            raise
        for a, o in self.interp.aliases.items():
            if all(a != b for b, _ in self.objects):
                self.objects.append((a, o))
        return True

    def set_conflict(self, op: dict[str, Any]) -> bool:
        """Adding to a set a value whose wire form equals an item's (the 3.x decoder merges them)."""
        if op["op"] != "call" or op["method"] != "add":
            return False
        target = self.interp.navigate(op["path"])
        if not isinstance(target, SetSchema) or target.item_type.is_ref:
            return False
        name = target.item_type.name
        new = wire_roundtrip(name, scalar(op["args"][0]))
        return any(_same_wire(wire_roundtrip(name, v), new) for v in target)

    def step(self, max_ops: int = 4) -> list[dict[str, Any]]:
        """Draw and apply the ops of one patch."""
        ops: list[dict[str, Any]] = []
        self.touched_arrays: set[int] = set()
        self.deleted_keys: set[tuple[int, str]] = set()
        for _ in range(self.draw(st.integers(0, max_ops))):
            op = self.op()
            if op is None or self.set_conflict(op):
                continue
            known = set(self.interp.aliases)
            if self.apply(op):
                ops.append(op)
                # arrays created in this patch count as touched (3.x mis-encodes
                # a new array that is changed again in the same patch)
                self.touched_arrays.update(id(o) for a, o in self.interp.aliases.items()
                                           if a not in known and isinstance(o, ArraySchema))
        return ops


def _wire_distinct(name: str, items: list[Any]) -> list[Any]:
    out: list[Any] = []
    seen: list[Any] = []
    for v in items:
        w = wire_roundtrip(name, scalar(v))
        if not any(_same_wire(w, x) for x in seen):
            seen.append(w)
            out.append(v)
    return out


def _same_wire(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return a == b


def _type_name(classes: dict[str, type], obj: Any) -> str:
    for name, cls in classes.items():
        if type(obj) is cls:
            return name
    raise KeyError(type(obj))


def _children(x: Any) -> list[Any]:
    if isinstance(x, SchemaCore):
        return [v for v in x._raw_values() if isinstance(v, (SchemaCore, MapSchema, ArraySchema,
                                                               SetSchema, CollectionSchema))]
    if isinstance(x, MapSchema):
        return list(x.values())
    if isinstance(x, (ArraySchema, SetSchema, CollectionSchema)):
        return list(x)
    return []


# ---------------------------------------------------------------- comparison

def same_json(a: Any, b: Any, path: str = "$") -> None:
    """Assert two decoded states are equal (numbers compared as JS would hold them)."""
    if isinstance(a, dict) and isinstance(b, dict):
        assert set(a) == set(b), f"{path}: keys {sorted(a)} != {sorted(b)}"
        for k in a:
            same_json(a[k], b[k], f"{path}.{k}")
        return
    if isinstance(a, list) and isinstance(b, list):
        assert len(a) == len(b), f"{path}: length {len(a)} != {len(b)}: {a!r} vs {b!r}"
        for i, (x, y) in enumerate(zip(a, b)):
            same_json(x, y, f"{path}[{i}]")
        return
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
        if a == b or (isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b)):
            return
        assert float(a) == float(b), f"{path}: {a!r} != {b!r}"
        return
    assert a == b, f"{path}: {a!r} != {b!r}"


def from_js(v: Any) -> Any:
    """JSON from the judge -> Python values."""
    if isinstance(v, dict):
        if set(v) == {"num"}:
            return {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}[v["num"]]
        if set(v) == {"bigint"}:
            return int(v["bigint"])
        return {k: from_js(x) for k, x in v.items()}
    if isinstance(v, list):
        return [from_js(x) for x in v]
    return v
