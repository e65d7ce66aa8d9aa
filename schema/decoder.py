"""Applying full states and patches to a local state.

The decoder keeps what the reference's decoder keeps: refId -> structure, a
reference count per refId (slots that hold it), and the index -> key bindings
of maps. Structures whose count drops to zero during a message are freed at the
end of that message, with their children (a structure may move between slots
within one message). Set and collection items are keyed by the wire index.

Malformed input raises ``DecodeError``; the ops applied before the error stay
applied and the reference counts stay consistent.
"""
from __future__ import annotations

import logging
from typing import Any, Generic, TypeVar

from ._collections import ArraySchema, CollectionSchema, MapSchema, SetSchema
from ._context import type_ids
from ._tracking import Ref
from ._reader import Reader, apply_schema_runs
from ._schema_core import SchemaCore
from ._spec import Marker, Operation, TypeCode
from .callbacks import Callbacks
from .changes import Change
from .errors import DecodeError

__all__ = ["Decoder", "Change"]

log = logging.getLogger("pyseus.schema.decoder")

# the wire constants as plain ints (compared in every op)
REPLACE, DELETE, ADD, DELETE_AND_ADD = (Operation.REPLACE.value, Operation.DELETE.value, Operation.ADD.value,
                                        Operation.DELETE_AND_ADD.value)
_MOVE, _DELETE_AND_MOVE, _MOVE_AND_ADD = (Operation.MOVE.value, Operation.DELETE_AND_MOVE.value,
                                          Operation.MOVE_AND_ADD.value)
_CLEAR, _REVERSE = Operation.CLEAR.value, Operation.REVERSE.value
_DELETE_BY_REFID, _ADD_BY_REFID = Operation.DELETE_BY_REFID.value, Operation.ADD_BY_REFID.value
_SWITCH, _TYPE_ID = Marker.SWITCH_TO_STRUCTURE.value, Marker.TYPE_ID.value
_ITEM_OPS = {REPLACE, DELETE, ADD, DELETE_AND_ADD}
_ARRAY_OPS = _ITEM_OPS | {_MOVE, _DELETE_AND_MOVE, _MOVE_AND_ADD}
_LAST_PRIMITIVE, _REF = TypeCode.BIGUINT64.value, TypeCode.REF.value
_COLLECTIONS: dict[int, Any] = {TypeCode.MAP.value: MapSchema, TypeCode.ARRAY.value: ArraySchema,
                                TypeCode.SET.value: SetSchema, TypeCode.COLLECTION.value: CollectionSchema}

_HOLE: Any = object()   # a deleted array slot until the end of its block

T = TypeVar("T", bound=SchemaCore)


class Decoder(Generic[T]):
    """Decodes full states and patches into ``state``.

    ``types`` maps type ids to classes; by default they are numbered from the
    state's class like the encoder does (or taken from a handshake, see
    ``Reflection.decode``). ``callbacks`` registers change listeners.

    With ``strict=False`` a block for an unknown refId, or an op on a field the
    local class does not have, is skipped up to the next block of a known
    structure (with a warning on the ``schema.decoder`` logger) instead of
    raising: that is what the reference decoder does, and what a client needs
    with servers whose encoder sometimes writes such blocks (3.x does) or whose
    classes are newer than the client's.
    """

    def __init__(self, state: T, types: dict[int, type] | None = None, *, strict: bool = True) -> None:
        if not isinstance(state, SchemaCore):
            raise TypeError(f"Decoder() needs a Schema instance, got {type(state).__name__}")
        if types is None:
            ids = getattr(type(state), "__schema_type_ids__", None) or type_ids(type(state))
            types = {tid: cls for cls, tid in ids.items()}
        self.types = types
        self.strict = strict
        self.callbacks = Callbacks(self)
        self.reset(state)

    def reset(self, state: T) -> None:
        """Start over from ``state`` (an empty root of the same class): for a full state
        that replaces everything decoded so far, as after a client's reconnection.
        Listeners stay registered: they follow refIds, which the server keeps."""
        self.state = state
        self.refs: dict[int, Any] = {0: state}
        self.refcounts: dict[int, int] = {0: 1}
        self._ids: dict[int, int] = {id(state): 0}
        self._map_keys: dict[int, dict[int, str]] = {}
        self.parents: dict[int, tuple[int, str]] = {}   # collection refId -> (owner refId, field)
        self._pending_gc: list[int] = []

    # ---- public -------------------------------------------------------------

    def decode(self, data: bytes | bytearray | memoryview) -> list[Change]:
        """Apply a full state or a patch; return the changes applied."""
        r = Reader(data if type(data) is bytes else bytes(data))
        changes: list[Change] = []
        ref: Any = self.state
        refid = 0
        error: DecodeError | None = None
        try:
            while r.pos < r.end:
                # most ops set primitive fields of Schema instances: applied in compiled code
                ref, refid = apply_schema_runs(r, self.refs, ref, refid, changes, Change)
                if r.pos >= r.end:
                    break
                if r.data[r.pos] == _SWITCH:
                    r.pos += 1
                    self._end_block(ref)
                    at = r.pos
                    rid = r.index("refId")
                    nxt = self.refs.get(rid)
                    if nxt is None:
                        if self.strict:
                            raise DecodeError(f"refId {rid} is not known", at)
                        log.warning("refId %d is not known (at byte %d); skipping its block", rid, at)
                        self._skip_to_known_block(r)
                        continue
                    ref, refid = nxt, rid
                    continue
                if isinstance(ref, SchemaCore):
                    if not self.strict and (r.data[r.pos] & 0x3F) >= type(ref).__schema_info__.nfields:
                        log.warning("%s has no field #%d (at byte %d); skipping the rest of its block",
                                    type(ref).__name__, r.data[r.pos] & 0x3F, r.pos)
                        self._skip_to_known_block(r)
                        continue
                    self._schema_op(r, ref, refid, changes)
                elif isinstance(ref, MapSchema):
                    self._map_op(r, ref, refid, changes)
                elif isinstance(ref, ArraySchema):
                    self._array_op(r, ref, refid, changes)
                else:
                    self._indexed_op(r, ref, refid, changes)
        except DecodeError as e:
            error = e
        except (IndexError, KeyError, TypeError, ValueError, OverflowError) as e:
            error = DecodeError(f"malformed data: {e!r}", r.pos)
        self._end_block(ref)
        if error is None and changes:
            self.callbacks._trigger(changes)
        if self._pending_gc:
            self._collect_garbage()
        if error is not None:
            raise error
        return changes

    def _skip_to_known_block(self, r: Reader) -> None:
        # Advance to the next SWITCH_TO_STRUCTURE byte followed by a known refId.
        data, end = r.data, r.end
        while r.pos < end:
            if data[r.pos] == _SWITCH:
                probe = Reader(data, r.pos + 1)
                try:
                    if probe.index() in self.refs:
                        return
                except DecodeError:
                    pass
            r.pos += 1

    def ref_id(self, obj: Any) -> int | None:
        """The refId of a decoded structure (None if it is not part of the state)."""
        return self._ids.get(id(obj))

    # ---- reference tracking -----------------------------------------------------

    def _register(self, rid: int, obj: Any, increment: bool) -> None:
        old = self.refs.get(rid)
        if old is not None and old is not obj:
            self._ids.pop(id(old), None)
        self.refs[rid] = obj
        self._ids[id(obj)] = rid
        if increment:
            self.refcounts[rid] = self.refcounts.get(rid, 0) + 1

    def _decref(self, obj: Any) -> None:
        rid = self._ids.get(id(obj))
        if rid is None:
            return
        count = self.refcounts.get(rid, 0)
        if count <= 0:
            return
        count -= 1
        self.refcounts[rid] = count
        if count == 0:
            self._pending_gc.append(rid)

    def _collect_garbage(self) -> None:
        queue = self._pending_gc
        seen = set(queue)
        i = 0
        while i < len(queue):
            rid = queue[i]
            i += 1
            if self.refcounts.get(rid, 0) > 0:
                continue
            obj = self.refs.pop(rid, None)
            if obj is None:
                continue
            del self.refcounts[rid]
            self._ids.pop(id(obj), None)
            self._map_keys.pop(rid, None)
            self.parents.pop(rid, None)
            self.callbacks._forget(rid)
            for child in _children(obj):
                crid = self._ids.get(id(child))
                if crid is None or crid in seen:
                    continue
                count = self.refcounts.get(crid, 0) - 1
                self.refcounts[crid] = count
                if count <= 0:
                    seen.add(crid)
                    queue.append(crid)
        self._pending_gc = []

    # ---- values -------------------------------------------------------------

    def _value(self, r: Reader, ftype: Any, op: int, prev: Any) -> Any:
        code = ftype.code
        if code <= _LAST_PRIMITIVE:
            return r.primitive(code)
        at = r.pos
        rid = r.index("refId")
        value = self.refs.get(rid)
        if code == _REF:
            if not op & ADD:
                # without the ADD bit the instance must exist already
                if value is None:
                    if self.strict:
                        raise DecodeError(f"refId {rid} is not known", at)
                    return None
                if not isinstance(value, ftype.cls):
                    raise DecodeError(f"refId {rid} is a {type(value).__name__}, not a {ftype.cls.__name__}", at)
                return value
            cls = ftype.cls
            if r.peek() == _TYPE_ID:
                r.pos += 1
                tat = r.pos
                tid = r.index("type id")
                cls = self.types.get(tid)
                if cls is None:
                    raise DecodeError(f"unknown type id {tid}", tat)
                if not issubclass(cls, ftype.cls):
                    raise DecodeError(f"type id {tid} ({cls.__name__}) is not a {ftype.cls.__name__}", tat)
            if value is None:
                value = cls.__new__(cls)
            elif not isinstance(value, ftype.cls):
                raise DecodeError(f"refId {rid} is a {type(value).__name__}, not a {ftype.cls.__name__}", at)
        else:
            kind = _COLLECTIONS[code]
            if value is None:
                value = kind._typed(ftype.child)
            elif not isinstance(value, kind):
                raise DecodeError(f"refId {rid} is a {type(value).__name__}, not a {kind.__name__}", at)
        self._register(rid, value, value is not prev or op == DELETE_AND_ADD)
        return value

    # ---- one operation per container ------------------------------------------

    def _schema_op(self, r: Reader, ref: SchemaCore, refid: int, changes: list[Change]) -> None:
        at = r.pos
        b = r.byte()
        op = b & 0xC0
        index = b & 0x3F
        fields = type(ref).__schema_info__.fields
        if index >= len(fields):
            raise DecodeError(f"{type(ref).__name__} has no field #{index}", at)
        f = fields[index]
        prev = ref._raw_get(index)
        # read the value before changing anything, so that an error leaves no half-applied op
        value = None if op == DELETE else self._value(r, f.type, op, prev)
        if op & DELETE:
            if isinstance(prev, Ref):
                self._decref(prev)
            if op != DELETE_AND_ADD:
                ref._raw_set(index, None)
        if op == DELETE:
            if prev is not None:
                changes.append(Change(ref, refid, op, f.name, None, prev))
            return
        if value is not None:
            ref._raw_set(index, value)
            if f.type.code > _REF:
                self.parents[self._ids[id(value)]] = (refid, f.name)
        if value is not prev:
            changes.append(Change(ref, refid, op, f.name, value, prev))

    def _map_op(self, r: Reader, ref: MapSchema[Any], refid: int, changes: list[Change]) -> None:
        at = r.pos
        op = r.byte()
        keys = self._map_keys.setdefault(refid, {})
        if op == _CLEAR:
            self._clear(ref, refid, list(ref.items()), changes)
            ref._raw_clear()
            keys.clear()
            return
        if op not in _ITEM_OPS:
            raise DecodeError(f"invalid MapSchema operation 0x{op:02x}", at)
        index = r.index()
        key: str | None
        if op & ADD:
            key = r.string()
            keys[index] = key
        else:
            key = keys.get(index)
            if key is None:
                if op == DELETE:
                    return   # an entry added and removed before this client saw it
                raise DecodeError(f"MapSchema index {index} is not bound to a key", at)
        prev = ref.get(key)
        value = None if op == DELETE else self._value(r, ref.item_type, op, prev)
        if op & DELETE:
            if isinstance(prev, Ref):
                self._decref(prev)
            if op != DELETE_AND_ADD:
                ref._raw_del(key)
                keys.pop(index, None)
        if op == DELETE:
            if prev is not None:
                changes.append(Change(ref, refid, op, key, None, prev))
            return
        if value is not None:
            ref._raw_set(key, value)
        if value is not prev:
            changes.append(Change(ref, refid, op, key, value, prev))

    def _indexed_op(self, r: Reader, ref: Any, refid: int, changes: list[Change]) -> None:
        at = r.pos
        op = r.byte()
        if op == _CLEAR:
            self._clear(ref, refid, list(ref._raw_items()), changes)
            ref._raw_clear()
            return
        if op not in _ITEM_OPS:
            raise DecodeError(f"invalid {type(ref).__name__} operation 0x{op:02x}", at)
        index = r.index()
        prev = ref._raw_get(index)
        value = None if op == DELETE else self._value(r, ref.item_type, op, prev)
        if op & DELETE:
            if isinstance(prev, Ref):
                self._decref(prev)
            if op != DELETE_AND_ADD:
                ref._raw_del(index)
        if op == DELETE:
            if prev is not None:
                changes.append(Change(ref, refid, op, index, None, prev))
            return
        if value is not None:
            ref._raw_set(index, value)
        if value is not prev:
            changes.append(Change(ref, refid, op, index, value, prev))

    def _array_op(self, r: Reader, ref: ArraySchema[Any], refid: int, changes: list[Change]) -> None:
        at = r.pos
        op = r.byte()
        items: list[Any] = ref._raw_list()
        if op == _CLEAR:
            self._clear(ref, refid, [(i, v) for i, v in enumerate(items) if v is not _HOLE], changes)
            items.clear()
            return
        if op == _REVERSE:
            items.reverse()
            return
        if op == _DELETE_BY_REFID:
            obj = self.refs.get(r.index("refId"))
            for i, v in enumerate(items):
                if v is obj and obj is not None:
                    items[i] = _HOLE
                    self._decref(obj)
                    changes.append(Change(ref, refid, DELETE, i, None, obj))
                    break
            return
        if op == _ADD_BY_REFID:
            # (the refId to look for, then the value: the same refId again)
            obj = self.refs.get(r.index("refId"))
            index = next((i for i, v in enumerate(items) if v is obj and obj is not None), len(items))
        elif op in _ARRAY_OPS:
            index = r.index()
            if index > len(items) + (r.end - r.pos):
                raise DecodeError(f"ArraySchema index {index} is out of range", at)
        else:
            raise DecodeError(f"invalid ArraySchema operation 0x{op:02x}", at)
        prev = items[index] if index < len(items) else None
        if prev is _HOLE:
            prev = None
        value = None if op == DELETE else self._value(r, ref.item_type, op, prev)
        if op & DELETE:
            if isinstance(prev, Ref):
                self._decref(prev)
            if op != DELETE_AND_ADD and index < len(items):
                items[index] = _HOLE
        if op == DELETE:
            if prev is not None:
                changes.append(Change(ref, refid, op, index, None, prev))
            return
        if value is None or value is prev or (not isinstance(value, Ref) and value == prev):
            return
        if index == 0 and op == ADD and items and items[0] is not _HOLE:
            items.insert(0, value)   # how 3.x sends unshift
        else:
            if op == _DELETE_AND_MOVE and index < len(items):
                del items[index]
            if index >= len(items):
                items.extend([_HOLE] * (index + 1 - len(items)))
            items[index] = value
        changes.append(Change(ref, refid, op, index, value, prev))

    def _clear(self, ref: Any, refid: int, entries: list[tuple[Any, Any]], changes: list[Change]) -> None:
        for key, value in entries:
            if isinstance(value, Ref):
                self._decref(value)
            changes.append(Change(ref, refid, DELETE, key, None, value))

    def _end_block(self, ref: Any) -> None:
        if isinstance(ref, ArraySchema):
            items = ref._raw_list()
            if _HOLE in items:
                items[:] = [v for v in items if v is not _HOLE]


def _children(obj: Any) -> list[Any]:
    """The structures held by a structure (for freeing a subtree)."""
    if isinstance(obj, SchemaCore):
        return [v for v in obj._raw_values() if isinstance(v, Ref)]
    if isinstance(obj, MapSchema):
        return [v for v in obj.values() if isinstance(v, Ref)]
    if isinstance(obj, ArraySchema):
        return [v for v in obj._raw_list() if isinstance(v, Ref)]
    return [v for _, v in obj._raw_items() if isinstance(v, Ref)]
