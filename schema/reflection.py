"""The reflection handshake: the state's types, sent before the state itself.

The handshake is the full state of a fixed schema (a list of types, each with
its parent and its own fields). Clients that have no class definitions build
classes from it; ``Reflection.decode`` does the same in Python.

It comes in two forms. @colyseus/schema 3.x and 4.x (clients 0.16, 0.17) write
a collection of primitives as the type ``"array:number"``; 5.x (clients 0.18)
writes the type ``"array"`` and the item type in a field of its own
(``childPrimitive``), and each reads only its own form. ``Reflection.encode``
writes either (``version=3``, byte for byte as 3.x does, or ``version=5``);
``decode`` reads both. One set of reflection classes, with 5.x's extra fields,
serves both forms: a field that is not set is not written.
"""
from __future__ import annotations

from typing import Any

from ._collections import ArraySchema
from ._context import type_ids
from ._declaration import LazyType, Schema, field
from ._fieldtype import collection_type, primitive, ref_type
from ._encoder import Encoder
from .errors import DecodeError, SchemaError
from .types import float64, number, string, uint8

__all__ = ["Reflection"]


class _QuantizedDescriptor(Schema):
    # 5.x: the parameters of a quantized number field (refused by decode, never written)
    min: float64 | None = None
    max: float64 | None = None
    bits: uint8 | None = None
    mode: uint8 | None = None


class _ReflectionField(Schema):
    name: string | None = None
    type: string | None = None
    referenced_type: number | None = None
    child_primitive: string | None = None                # 5.x
    quantized: _QuantizedDescriptor | None = None        # 5.x


class _ReflectionType(Schema):
    id: number | None = None
    extends_id: number | None = None
    fields: ArraySchema[_ReflectionField] = field(default_factory=ArraySchema)


class _Reflection(Schema):
    types: ArraySchema[_ReflectionType] = field(default_factory=ArraySchema)
    root_type: number | None = None


_KINDS = ("map", "array", "set", "collection")


def _schema_base(cls: Any) -> Any:
    return next(b for b in cls.__bases__ if isinstance(b, type) and issubclass(b, Schema))


VERSIONS = (3, 5)

# Bounds of what decode accepts: far above any real state, and low enough that a
# hostile handshake costs little (deep class chains are slow to build).
MAX_HANDSHAKE_BYTES = 1 << 20
MAX_TYPES = 1024
MAX_FIELDS = 64                 # per type (as @colyseus/schema allows)
MAX_EXTENDS_DEPTH = 32


def _describe_field(f: Any, ids: dict[type, int], version: int) -> _ReflectionField:
    rf = _ReflectionField()
    rf.name = f.wire_name
    t = f.type
    if t.is_primitive:
        rf.type = t.name
        return rf
    if t.is_ref:
        type_name, target = "ref", t.cls
    elif t.child.is_primitive:
        target = None
        if version == 3:
            type_name = f"{t.name}:{t.child.name}"
        else:
            type_name = t.name
            rf.child_primitive = t.child.name
    else:
        type_name, target = t.name, t.child.cls
    rf.referenced_type = ids[target] if target is not None else -1
    rf.type = type_name
    return rf


class Reflection:
    """Encode and decode the handshake that describes a state's types."""

    @staticmethod
    def encode(state_or_class: Any, version: int = 3) -> bytes:
        """The handshake bytes for a state instance or a Schema class, in the form of
        @colyseus/schema 3.x/4.x (``version=3``) or 5.x (``version=5``)."""
        cls = state_or_class if isinstance(state_or_class, type) else type(state_or_class)
        if not issubclass(cls, Schema):
            raise TypeError(f"Reflection.encode() needs a Schema class or instance, got {cls.__name__}")
        if version not in VERSIONS:
            raise ValueError(f"version must be 3 or 5, not {version!r}")
        ids = type_ids(cls)
        reflection = _Reflection()
        encoder = Encoder(reflection)
        if ids[cls] > 0:
            reflection.root_type = ids[cls]
        listed: set[Any] = set()
        waiting: dict[Any, list[_ReflectionType]] = {}

        def add(t: _ReflectionType) -> None:
            # a type is listed after its parent
            if t.extends_id is None or t.extends_id in listed:
                listed.add(t.id)
                reflection.types.append(t)
                for child in waiting.pop(t.id, ()):
                    add(child)
            else:
                waiting.setdefault(t.extends_id, []).append(t)

        klass: Any
        for klass, tid in ids.items():
            t = _ReflectionType()
            t.id = tid
            base = _schema_base(klass)
            if base is not Schema:
                t.extends_id = ids[base]
            for f in klass.__schema_info__.fields:
                if f.owner is klass:
                    t.fields.append(_describe_field(f, ids, version))
            add(t)
        for pending in waiting.values():
            for t in pending:
                reflection.types.append(t)
        return encoder.encode_all()

    @staticmethod
    def decode(data: bytes) -> Schema:
        """A fresh, empty root instance of classes built from a handshake.

        The classes are named ``Type<id>``; a ``Decoder`` created on the returned
        instance uses the type ids of the handshake. Anything malformed, or
        beyond the bounds of this module (size, types, fields, inheritance
        depth), raises ``DecodeError``.
        """
        from .decoder import Decoder

        if len(data) > MAX_HANDSHAKE_BYTES:
            raise DecodeError(f"handshake: {len(data)} bytes, more than {MAX_HANDSHAKE_BYTES}")
        reflection = _Reflection.__new__(_Reflection)
        Decoder(reflection).decode(data)
        described: dict[int, Any] = {}
        for rt in reflection.types or ():
            if not isinstance(rt.id, int) or rt.id in described:
                raise DecodeError(f"handshake: bad or repeated type id {rt.id!r}")
            if len(described) == MAX_TYPES:
                raise DecodeError(f"handshake: more than {MAX_TYPES} types")
            if len(rt.fields or ()) > MAX_FIELDS:
                raise DecodeError(f"handshake: type {rt.id} has more than {MAX_FIELDS} fields")
            described[rt.id] = rt
        root_id: Any = reflection.root_type or 0
        if root_id not in described:
            raise DecodeError(f"handshake: the root type {root_id!r} is not described")

        namespace: dict[int, type] = {}

        def field_spec(rf: Any) -> Any:
            name, type_name, target = rf.name, rf.type, rf.referenced_type
            if not isinstance(name, str) or not isinstance(type_name, str):
                raise DecodeError("handshake: a field has no name or type")
            if not name.isidentifier() or name.startswith("__"):
                raise DecodeError(f"handshake: field name {name!r} cannot be a Python attribute")
            if rf.quantized is not None:
                raise DecodeError(f"handshake: field {name!r} is a 5.x quantized number, which pyseus does not read")
            if rf.child_primitive is not None and type_name in _KINDS:
                type_name = f"{type_name}:{rf.child_primitive}"     # the 5.x form of "array:number"
            if target is not None and target >= 0:
                if target not in described:
                    raise DecodeError(f"handshake: field {name!r} refers to unknown type {target}")
                if type_name == "ref":
                    return LazyType(lambda: ref_type(namespace[target]))
                if type_name in _KINDS:
                    return LazyType(lambda: collection_type(type_name, ref_type(namespace[target])))
                raise DecodeError(f"handshake: field {name!r} has unknown type {type_name!r}")
            try:
                kind, _, item = type_name.partition(":")
                if item:
                    if kind not in _KINDS:
                        raise ValueError(kind)
                    return collection_type(kind, primitive(item))
                return primitive(type_name)
            except (ValueError, SchemaError):
                raise DecodeError(f"handshake: field {name!r} has unknown type {type_name!r}") from None

        def build(tid: int, chain: tuple[int, ...] = ()) -> type:
            if tid in namespace:
                return namespace[tid]
            base: type
            if tid in chain:
                raise DecodeError(f"handshake: type {tid} extends itself")
            rt = described[tid]
            if rt.extends_id is None:
                base = Schema
            elif rt.extends_id in described:
                base = build(rt.extends_id, chain + (tid,))
            else:
                raise DecodeError(f"handshake: type {tid} extends unknown type {rt.extends_id}")
            fields = [(rf.name, field_spec(rf)) for rf in rt.fields or ()]
            try:
                cls = type(f"Type{tid}", (base,), {
                    "__module__": __name__, "__qualname__": f"Type{tid}", "__schema_fields__": fields})
            except (SchemaError, TypeError, ValueError) as e:      # a name the class cannot take
                raise DecodeError(f"handshake: type {tid}: {e}") from None
            namespace[tid] = cls
            return cls

        # (measured before any class is built: a deep chain is slow to build)
        depth: dict[Any, int] = {}
        for tid in described:
            path = []
            while tid in described and tid not in depth and tid not in path:
                path.append(tid)
                tid = described[tid].extends_id
            base = depth.get(tid, 0)
            for n, t in enumerate(reversed(path), 1):
                depth[t] = base + n
                if base + n > MAX_EXTENDS_DEPTH:
                    raise DecodeError(f"handshake: type {t} is more than {MAX_EXTENDS_DEPTH} levels deep")
        for tid in described:
            build(tid)
        try:
            for built in namespace.values():
                built.__schema_info__.resolve()  # type: ignore[attr-defined]
        except (SchemaError, TypeError, ValueError) as e:
            raise DecodeError(f"handshake: {e}") from None
        root_cls: Any = namespace[root_id]
        root_cls.__schema_type_ids__ = {cls: tid for tid, cls in namespace.items()}
        return root_cls.__new__(root_cls)  # type: ignore[no-any-return]
