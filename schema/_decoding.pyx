"""The decoder's compiled core: the tables a decoder keeps, and every op it applies.

``decoder.Decoder`` is the public class on top (construction, the callbacks).
The tables are those of the reference's decoder: refId -> structure, a
reference count per refId (slots that hold it), the index -> key bindings of
maps, and each collection's owner. Structures whose count drops to zero during
a message are freed at its end, with their children (a structure may move
between slots within one message). Set and collection items are keyed by the
wire index.
"""

cimport cython

from ._fieldtype cimport LAST_PRIMITIVE, FieldType
from ._reader cimport Reader, apply_runs, make_change
from ._schema_core cimport Field, SchemaCore
from ._spec cimport (
    ADD, ADD_BY_REFID, CLEAR, DELETE, DELETE_AND_ADD, DELETE_AND_MOVE, DELETE_BY_REFID, MOVE, MOVE_AND_ADD,
    REF, REPLACE, REVERSE, SWITCH_TO_STRUCTURE, TYPE_ID,
)
from ._tracking cimport Ref

import logging

from ._collections import ArraySchema, CollectionSchema, MapSchema, SetSchema
from ._spec import TypeCode
from .changes import Change
from .errors import DecodeError

__all__ = ["DecoderCore"]

log = logging.getLogger("pyseus.schema.decoder")

cdef dict _COLLECTIONS = {TypeCode.MAP.value: MapSchema, TypeCode.ARRAY.value: ArraySchema,
                          TypeCode.SET.value: SetSchema, TypeCode.COLLECTION.value: CollectionSchema}
cdef object _HOLE = object()      # a deleted array slot until the end of its block
cdef type _Change = Change
if not issubclass(Change, tuple):
    raise ImportError("Change must be a tuple subclass")      # (make_change builds it as one)


cdef inline bint _item_op(int op) noexcept:
    return op == REPLACE or op == DELETE or op == ADD or op == DELETE_AND_ADD


cdef inline object _change(object ref, object refid, int op, object key, object value, object prev):
    return make_change(_Change, ref, refid, op, key, value, prev)


@cython.auto_pickle(False)
cdef class DecoderCore:
    """The tables and the ops (see the module documentation)."""

    cdef public object state
    cdef public dict types              # type id -> class
    cdef public bint strict
    cdef public object callbacks        # the decoder's Callbacks (set by Decoder)
    cdef public dict refs               # refId -> structure
    cdef public dict refcounts          # refId -> slots that hold it
    cdef public dict parents            # collection refId -> (owner refId, field)
    cdef dict _ids                      # id(structure) -> refId
    cdef dict _map_keys                 # map refId -> {index: key}
    cdef list _pending_gc

    def reset(self, state):
        """Start over from ``state`` (an empty root of the same class): for a full state
        that replaces everything decoded so far, as after a client's reconnection.
        Listeners stay registered: they follow refIds, which the server keeps."""
        self.state = state
        self.refs = {0: state}
        self.refcounts = {0: 1}
        self._ids = {id(state): 0}
        self._map_keys = {}
        self.parents = {}
        self._pending_gc = []

    def ref_id(self, obj):
        """The refId of a decoded structure (None if it is not part of the state)."""
        return self._ids.get(id(obj))

    def decode(self, data):
        """Apply a full state or a patch; return the changes applied."""
        cdef Reader r = Reader(data if type(data) is bytes else bytes(data))
        cdef list changes = []
        cdef object ref = self.state
        cdef object refid = 0
        cdef object error = None
        cdef object rid, nxt
        cdef Py_ssize_t at
        try:
            while r.pos < r.end:
                # most ops set primitive fields of Schema instances: runs of them in one call
                ref, refid = apply_runs(r, self.refs, ref, refid, changes, _Change)
                if r.pos >= r.end:
                    break
                if r.d[r.pos] == SWITCH_TO_STRUCTURE:
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
                    if not self.strict and (r.d[r.pos] & 0x3F) >= (<SchemaCore>ref)._info.nfields:
                        log.warning("%s has no field #%d (at byte %d); skipping the rest of its block",
                                    type(ref).__name__, r.d[r.pos] & 0x3F, r.pos)
                        self._skip_to_known_block(r)
                        continue
                    self._schema_op(r, <SchemaCore>ref, refid, changes)
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

    cdef _skip_to_known_block(self, Reader r):
        # Advance to the next SWITCH_TO_STRUCTURE byte followed by a known refId.
        cdef Reader probe
        while r.pos < r.end:
            if r.d[r.pos] == SWITCH_TO_STRUCTURE:
                probe = Reader(r.data, r.pos + 1)
                try:
                    known = probe.index() in self.refs
                except DecodeError:
                    known = False
                if known:
                    return
            r.pos += 1

    # ---- reference tracking -----------------------------------------------------

    cdef _register(self, object rid, object obj, bint increment):
        old = self.refs.get(rid)
        if old is not None and old is not obj:
            self._ids.pop(id(old), None)
        self.refs[rid] = obj
        self._ids[id(obj)] = rid
        if increment:
            self.refcounts[rid] = self.refcounts.get(rid, 0) + 1

    cdef _decref(self, object obj):
        rid = self._ids.get(id(obj))
        if rid is None:
            return
        cdef Py_ssize_t count = self.refcounts.get(rid, 0)
        if count <= 0:
            return
        count -= 1
        self.refcounts[rid] = count
        if count == 0:
            self._pending_gc.append(rid)

    cdef _collect_garbage(self):
        cdef list queue = self._pending_gc
        cdef set seen = set(queue)
        cdef Py_ssize_t i = 0
        cdef Py_ssize_t count
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

    cdef object _value(self, Reader r, FieldType ftype, int op, object prev):
        if ftype is None:
            raise TypeError("no item type")
        cdef int code = ftype.code
        if code <= LAST_PRIMITIVE:
            return r.primitive(code)
        cdef Py_ssize_t at = r.pos
        cdef Py_ssize_t tat
        rid = r.index("refId")
        value = self.refs.get(rid)
        if code == REF:
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
            if 0 <= r.pos < r.end and r.d[r.pos] == TYPE_ID:
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

    cdef _schema_op(self, Reader r, SchemaCore ref, object refid, list changes):
        cdef Py_ssize_t at = r.pos
        cdef int b = r.byte()
        cdef int op = b & 0xC0
        cdef int index = b & 0x3F
        if index >= ref._info.nfields:
            raise DecodeError(f"{type(ref).__name__} has no field #{index}", at)
        cdef Field f = ref._info.fields[index]
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
                changes.append(_change(ref, refid, op, f.name, None, prev))
            return
        if value is not None:
            ref._raw_set(index, value)
            if f.type.code > REF:
                self.parents[self._ids[id(value)]] = (refid, f.name)
        if value is not prev:
            changes.append(_change(ref, refid, op, f.name, value, prev))

    cdef _map_op(self, Reader r, object ref, object refid, list changes):
        cdef Py_ssize_t at = r.pos
        cdef int op = r.byte()
        cdef dict keys = self._map_keys.get(refid)
        if keys is None:
            keys = self._map_keys[refid] = {}
        if op == CLEAR:
            self._clear(ref, refid, list(ref.items()), changes)
            ref._raw_clear()
            keys.clear()
            return
        if not _item_op(op):
            raise DecodeError(f"invalid MapSchema operation 0x{op:02x}", at)
        index = r.index()
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
        self._put_item(ref, refid, op, key, value, prev, changes)
        if op == DELETE:
            keys.pop(index, None)

    cdef _indexed_op(self, Reader r, object ref, object refid, list changes):
        cdef Py_ssize_t at = r.pos
        cdef int op = r.byte()
        if op == CLEAR:
            self._clear(ref, refid, list(ref._raw_items()), changes)
            ref._raw_clear()
            return
        if not _item_op(op):
            raise DecodeError(f"invalid {type(ref).__name__} operation 0x{op:02x}", at)
        index = r.index()
        prev = ref._raw_get(index)
        value = None if op == DELETE else self._value(r, ref.item_type, op, prev)
        self._put_item(ref, refid, op, index, value, prev, changes)

    cdef _put_item(self, object ref, object refid, int op, object key, object value, object prev,
                   list changes):
        # a map's or a set's (collection's) item op, once its value is read
        if op & DELETE:
            if isinstance(prev, Ref):
                self._decref(prev)
            if op != DELETE_AND_ADD:
                ref._raw_del(key)
        if op == DELETE:
            if prev is not None:
                changes.append(_change(ref, refid, op, key, None, prev))
            return
        if value is not None:
            ref._raw_set(key, value)
        if value is not prev:
            changes.append(_change(ref, refid, op, key, value, prev))

    cdef _array_op(self, Reader r, object ref, object refid, list changes):
        cdef Py_ssize_t at = r.pos
        cdef int op = r.byte()
        cdef list items = ref._raw_list()
        cdef Py_ssize_t i, index
        if op == CLEAR:
            self._clear(ref, refid, [(i, v) for i, v in enumerate(items) if v is not _HOLE], changes)
            items.clear()
            return
        if op == REVERSE:
            items.reverse()
            return
        if op == DELETE_BY_REFID:
            obj = self.refs.get(r.index("refId"))
            for i, v in enumerate(items):
                if v is obj and obj is not None:
                    items[i] = _HOLE
                    self._decref(obj)
                    changes.append(_change(ref, refid, DELETE, i, None, obj))
                    break
            return
        if op == ADD_BY_REFID:
            # (the refId to look for, then the value: the same refId again)
            obj = self.refs.get(r.index("refId"))
            index = len(items)
            if obj is not None:
                for i, v in enumerate(items):
                    if v is obj:
                        index = i
                        break
        elif _item_op(op) or op == MOVE or op == DELETE_AND_MOVE or op == MOVE_AND_ADD:
            wire_index = r.index()
            if wire_index > len(items) + (r.end - r.pos):
                raise DecodeError(f"ArraySchema index {wire_index} is out of range", at)
            index = wire_index
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
                changes.append(_change(ref, refid, op, index, None, prev))
            return
        if value is None or value is prev or (not isinstance(value, Ref) and value == prev):
            return
        if index == 0 and op == ADD and items and items[0] is not _HOLE:
            items.insert(0, value)   # how 3.x sends unshift
        else:
            if op == DELETE_AND_MOVE and index < len(items):
                del items[index]
            if index >= len(items):
                items.extend([_HOLE] * (index + 1 - len(items)))
            items[index] = value
        changes.append(_change(ref, refid, op, index, value, prev))

    cdef _clear(self, object ref, object refid, list entries, list changes):
        for key, value in entries:
            if isinstance(value, Ref):
                self._decref(value)
            changes.append(_change(ref, refid, DELETE, key, None, value))

    cdef _end_block(self, object ref):
        cdef list items
        if isinstance(ref, ArraySchema):
            items = ref._raw_list()
            if _HOLE in items:
                items[:] = [v for v in items if v is not _HOLE]


cdef list _children(object obj):
    """The structures held by a structure (for freeing a subtree)."""
    if isinstance(obj, SchemaCore):
        return [v for v in obj._raw_values() if isinstance(v, Ref)]
    if isinstance(obj, MapSchema):
        return [v for v in obj.values() if isinstance(v, Ref)]
    if isinstance(obj, ArraySchema):
        return [v for v in obj._raw_list() if isinstance(v, Ref)]
    return [v for _, v in obj._raw_items() if isinstance(v, Ref)]
