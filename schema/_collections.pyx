# cython: language_level=3
"""MapSchema, ArraySchema, SetSchema and CollectionSchema.

Each behaves like its Python counterpart (a MutableMapping, a MutableSequence, a
set, a bag) and records what the 3.x decoder needs to reproduce every mutation:

* MapSchema: a wire index per key (a counter reset only by ``clear()``); ops per
  index in first-touch order; deleted keys keep their index until the patch is
  sent.
* ArraySchema: indexes address the array as the decoder holds it (its length
  at the previous patch) plus appended slots; a DELETE leaves a hole that the
  decoder closes at the end of the block. Every mutation is expressed as kept
  old positions (possibly with a new value), deleted old positions and
  appended items, which the decoder always applies correctly.
* SetSchema / CollectionSchema: a wire index per item from a counter that is
  never reset. The 3.x decoder numbers items with its own counter, so a DELETE
  by index is only sent while every client's numbering still matches; after the
  first removal, removals are sent as CLEAR plus every item.
"""
import types as _pytypes
from bisect import bisect_left
from collections import Counter
from collections.abc import Iterable, Mapping, MutableMapping, MutableSequence, MutableSet

from cpython.list cimport PyList_GET_ITEM, PyList_GET_SIZE

from ._buffer cimport Buf, buf_byte, write_string, write_uint
from ._tracking cimport Ref, Tracker, check_linkable, link, mark_changed, unlink
from ._fieldtype cimport FieldType
from ._spec cimport (
    ADD as OP_ADD, CLEAR as OP_CLEAR, DELETE as OP_DELETE, DELETE_AND_ADD as OP_DELETE_AND_ADD,
    REPLACE as OP_REPLACE, REVERSE as OP_REVERSE, ARRAY as T_ARRAY, COLLECTION as T_COLLECTION,
    MAP as T_MAP, SET as T_SET,
)

from ._fieldtype import collection_label, register_collection_class
from .types import item_type

cdef object _MISSING = object()

cdef enum:
    QUIET_NONE = 0
    QUIET_REVERSE = 1
    QUIET_UNSHIFT = 2


cdef inline int merge_op(dict changes, object index, int op) except -1:
    # The 3.x rule for an index touched again within one patch.
    prev = changes.get(index)
    if prev is None or prev == OP_REPLACE:
        changes[index] = op
    elif prev == OP_DELETE:
        changes[index] = OP_DELETE_AND_ADD
    return 0


class _TypedAlias(_pytypes.GenericAlias):
    """``MapSchema[Player]``: usable in annotations and callable to make a typed instance."""

    def __call__(self, *args, **kwargs):
        return self.__origin__._typed(item_type(self.__args__[0]), *args, **kwargs)


cdef class _Collection(Ref):
    cdef str _label

    @classmethod
    def __class_getitem__(cls, item):
        if isinstance(item, tuple) and len(item) == 1:
            item = item[0]
        return _TypedAlias(cls, (item,))

    @classmethod
    def _typed(cls, FieldType child, *args, **kwargs):
        cdef _Collection obj = cls.__new__(cls)
        obj._set_type(child)
        obj.__init__(*args, **kwargs)
        return obj

    cdef void _set_type(self, FieldType child):
        self.child = child
        self._label = f"{type(self).__name__}[{child!r}] item"

    cdef object _check(self, object value):
        if self.child is not None:
            return self.child.check(value, self._label)
        if value is None:
            raise TypeError(f"{type(self).__name__} items cannot be None")
        return value

    @classmethod
    def _coerce(cls, FieldType ftype, value, where):
        # What a field of type `ftype` (a collection of this kind) stores for
        # `value`: the collection itself, or a typed copy of a plain container.
        cdef _Collection c
        if isinstance(value, cls):
            c = <_Collection>value
            if c.child is None:
                c._adopt_type(ftype.child)
            elif c.child is not ftype.child:
                raise TypeError(f"{where}: expected {ftype!r}, got {collection_label(c.kind, c.child)}")
            return value
        if isinstance(value, _PLAIN_SOURCES[ftype.code]):
            return cls._typed(ftype.child, value)
        raise TypeError(f"{where}: expected {ftype!r}, got {type(value).__name__}")

    cdef int write_changes(self, Tracker enc, Buf* b) except -1:
        self._write_ops(enc, b)
        self.discard_changes()
        return 0

    cdef int _write_ops(self, Tracker enc, Buf* b) except -1:
        return 0

    def _adopt_type(self, FieldType child):
        # An untyped collection assigned to a typed field takes the field's type.
        for value in self._values_list():
            child.check(value, f"{type(self).__name__}[{child!r}] item")
        self._set_type(child)
        self._retype_values()

    def _values_list(self):
        return []

    def _retype_values(self):
        pass

    @property
    def item_type(self):
        """The declared type of the items (None for an untyped collection)."""
        return self.child

    def __repr__(self):
        name = type(self).__name__ if self.child is None else f"{type(self).__name__}[{self.child!r}]"
        return f"{name}({self._repr_content()})"

    def _repr_content(self):
        return ""

    __hash__ = None


# the plain containers a field of each kind converts
_PLAIN_SOURCES = {T_MAP: (Mapping,), T_ARRAY: (list, tuple), T_COLLECTION: (list, tuple),
                  T_SET: (set, frozenset, list, tuple)}


cdef inline bint _same_item(object a, object b):
    # what the 3.x decoder treats as "the same value" (===)
    return a is b or (not isinstance(a, Ref) and not isinstance(b, Ref) and a == b)


cdef inline object _json(object v):
    return v.to_json() if isinstance(v, Ref) else v


# ==========================================================================
# MapSchema
# ==========================================================================

cdef class MapSchema(_Collection):
    """A ``MutableMapping[str, T]`` whose changes are sent to clients (insertion order kept)."""
    cdef dict _items          # key -> value
    cdef dict _key2idx        # key -> wire index (deleted keys too, until the patch is sent)
    cdef Py_ssize_t _counter
    cdef dict _changes        # key -> op, first-touch order (str keys: their hash is cached)
    cdef bint _clear
    cdef bint _rewrite

    def __cinit__(self, *args, **kwargs):
        self.kind = T_MAP
        self._items = {}
        self._key2idx = {}
        self._changes = {}

    def __init__(self, initial=None, /, **kwargs):
        if initial is not None:
            self.update(initial)
        if kwargs:
            self.update(kwargs)

    # ---- mapping API ------------------------------------------------------

    def __getitem__(self, key):
        return self._items[key]

    def __setitem__(self, key, value):
        cdef bint is_ref
        if not isinstance(key, str):
            raise TypeError(f"MapSchema keys must be str, got {type(key).__name__}")
        if value is None:
            raise TypeError("MapSchema values cannot be None (use del to remove a key)")
        value = self._check(value)
        is_ref = isinstance(value, Ref)
        old = self._items.get(key, _MISSING)
        idx = self._key2idx.get(key)
        if idx is not None:
            if old is value or (not is_ref and old is not _MISSING and old == value):
                return
            if is_ref:
                check_linkable(<Ref>value, self)
            self._items[key] = value
            merge_op(self._changes, key, OP_DELETE_AND_ADD if is_ref else OP_REPLACE)
        else:
            if is_ref:
                check_linkable(<Ref>value, self)
            self._key2idx[key] = self._counter
            self._counter += 1
            self._items[key] = value
            merge_op(self._changes, key, OP_ADD)
        mark_changed(self)
        if isinstance(old, Ref):
            unlink(self, <Ref>old)
        if is_ref:
            link(self, <Ref>value)

    def __delitem__(self, key):
        old = self._items.pop(key)
        if self._changes.get(key) == OP_ADD:
            # added in this patch: the decoder never saw this index, forget it now
            del self._changes[key]
            del self._key2idx[key]
        else:
            self._changes[key] = OP_DELETE
        mark_changed(self)
        if isinstance(old, Ref):
            unlink(self, <Ref>old)

    def __iter__(self):
        return iter(self._items)

    def __len__(self):
        return len(self._items)

    def __contains__(self, key):
        return key in self._items

    def keys(self):
        return self._items.keys()

    def values(self):
        return self._items.values()

    def items(self):
        return self._items.items()

    def get(self, key, default=None):
        return self._items.get(key, default)

    def pop(self, key, default=_MISSING):
        if key in self._items:
            value = self._items[key]
            del self[key]
            return value
        if default is _MISSING:
            raise KeyError(key)
        return default

    def popitem(self):
        if not self._items:
            raise KeyError("popitem(): MapSchema is empty")
        key = next(reversed(self._items))
        value = self._items[key]
        del self[key]
        return key, value

    def setdefault(self, key, default=None):
        if key not in self._items:
            self[key] = default
        return self._items[key]

    def update(self, other=(), /, **kwargs):
        if isinstance(other, Mapping):
            for key in other:
                self[key] = other[key]
        elif hasattr(other, "keys"):
            for key in other.keys():
                self[key] = other[key]
        else:
            for key, value in other:
                self[key] = value
        for key, value in kwargs.items():
            self[key] = value

    def clear(self):
        """Remove every entry; sent as a single CLEAR."""
        if not self._items and not self._changes and not self._clear:
            return
        old = list(self._items.values())
        self._items.clear()
        self._key2idx.clear()
        self._counter = 0
        self._changes.clear()
        self._clear = True
        self._rewrite = False
        mark_changed(self)
        for v in old:
            if isinstance(v, Ref):
                unlink(self, <Ref>v)

    def copy(self):
        """An untracked MapSchema of the same type with the same entries."""
        return type(self)._typed(self.child, self._items) if self.child is not None else type(self)(self._items)

    def __eq__(self, other):
        if isinstance(other, MapSchema):
            return self._items == (<MapSchema>other)._items
        if isinstance(other, Mapping):
            return self._items == dict(other)
        return NotImplemented

    def to_json(self):
        """A plain dict of the entries."""
        return {k: _json(v) for k, v in self._items.items()}

    def _repr_content(self):
        return repr(self._items) if self._items else ""

    def __reduce__(self):
        return (_rebuild_collection, (type(self), self.child, dict(self._items)))

    def _values_list(self):
        return list(self._items.values())

    def _retype_values(self):
        for key, value in list(self._items.items()):
            self._items[key] = self.child.check(value, self._label)

    # ---- encoder side -----------------------------------------------------

    cdef bint has_changes(self):
        return self._rewrite or self._clear or len(self._changes) > 0

    cdef bint has_content(self):
        return len(self._items) > 0

    cdef int _write_ops(self, Tracker enc, Buf* b) except -1:
        cdef int op
        if self._rewrite:
            buf_byte(b, OP_CLEAR)
            return self.write_full(enc, b)
        if self._clear:
            buf_byte(b, OP_CLEAR)
        for key, op in self._changes.items():
            buf_byte(b, op)
            write_uint(b, self._key2idx[key])
            if op == OP_DELETE:
                continue
            if op & OP_ADD:
                write_string(b, key)
            enc.write_item(b, self.child, self._items[key], op, False)
        return 0

    cdef int write_full(self, Tracker enc, Buf* b) except -1:
        for key, value in self._items.items():
            buf_byte(b, OP_ADD)
            write_uint(b, self._key2idx[key])
            write_string(b, key)
            enc.write_item(b, self.child, value, OP_ADD, False)
        return 0

    cdef void discard_changes(self):
        cdef int op
        for key, op in self._changes.items():
            # a key whose last op is DELETE was not added again: its index is free
            if op == OP_DELETE:
                self._key2idx.pop(key, None)
        if self._changes:
            self._changes.clear()
        self._clear = False
        self._rewrite = False

    cdef list child_refs(self):
        return [v for v in self._items.values() if isinstance(v, Ref)]

    cdef void resend_all(self):
        self._rewrite = True

    # ---- raw access for the decoder ---------------------------------------

    def _raw_set(self, key, value):
        self._items[key] = value

    def _raw_del(self, key):
        return self._items.pop(key, None)

    def _raw_clear(self):
        self._items.clear()


# ==========================================================================
# ArraySchema
# ==========================================================================

cdef class ArraySchema(_Collection):
    """A ``MutableSequence[T]`` whose changes are sent to clients."""
    cdef list _items
    cdef Py_ssize_t _base_len   # length of the array as the decoder holds it
    cdef Py_ssize_t _nkept      # items[:_nkept] sit at old positions, the rest is appended
    cdef list _pos              # old position of each kept item (None: item k at position k)
    cdef dict _touched          # old position -> op, first-touch order
    cdef bint _clear
    cdef bint _all_dirty        # every kept item is re-sent (after sort, reverse, inserts...)
    cdef int _quiet             # a lone reverse() or insert(0, x) sent as REVERSE / ADD 0

    def __cinit__(self, *args, **kwargs):
        self.kind = T_ARRAY
        self._items = []
        self._touched = {}

    def __init__(self, initial=(), /):
        if initial:
            self.extend(initial)

    # ---- bookkeeping --------------------------------------------------------

    cdef inline void _unquiet(self):
        # Another mutation after a lone reverse/unshift: send every kept item instead.
        if self._quiet:
            self._quiet = QUIET_NONE
            self._all_dirty = True

    cdef inline Py_ssize_t _pos_of(self, Py_ssize_t k):
        return k if self._pos is None else <Py_ssize_t>self._pos[k]

    cdef inline int _changed_at(self, Py_ssize_t k, object value) except -1:
        # Kept item k holds a new value.
        merge_op(self._touched, self._pos_of(k),
                 OP_DELETE_AND_ADD if isinstance(value, Ref) else OP_REPLACE)
        return 0

    cdef inline void _materialize(self):
        if self._pos is None:
            self._pos = list(range(self._nkept))

    cdef int _insert_at(self, Py_ssize_t k, object value) except -1:
        cdef Py_ssize_t j, n = PyList_GET_SIZE(self._items)
        cdef Py_ssize_t lo, hi, best
        cdef bint is_ref = isinstance(value, Ref)
        if is_ref:
            check_linkable(<Ref>value, self)
        if k >= self._nkept:
            # appended region (a push when k == len)
            self._unquiet()
            self._items.insert(k, value)
        elif (self._quiet == QUIET_NONE and not self._clear and not self._all_dirty
              and not self._touched and self._nkept == n == self._base_len and k == 0
              and not _same_item(value, self._items[0])):
            # a lone unshift: 3.x sends ADD 0, which the decoder turns into an insert
            # (unless the value equals the first item: then it ignores the op)
            self._items.insert(0, value)
            self._quiet = QUIET_UNSHIFT
        else:
            self._unquiet()
            best = -1
            if self._pos is not None:
                lo = self._pos[k - 1] if k > 0 else -1
                hi = self._pos[k]
                for p, op in self._touched.items():
                    if op == OP_DELETE and lo < p < hi and (best < 0 or p < best):
                        best = p
            if best >= 0:
                # reuse a position deleted in this patch (3.x splice does the same)
                self._pos.insert(k, best)
                self._nkept += 1
                self._touched[best] = OP_DELETE_AND_ADD
                self._items.insert(k, value)
            else:
                # shift: every kept item from k on gets a new value, the last one spills
                self._items.insert(k, value)
                for j in range(k, self._nkept):
                    self._changed_at(j, self._items[j])
        mark_changed(self)
        if is_ref:
            link(self, <Ref>value)
        return 0

    cdef object _delete_at(self, Py_ssize_t k):
        cdef Py_ssize_t n = PyList_GET_SIZE(self._items)
        self._unquiet()
        old = self._items.pop(k)
        if k < self._nkept:
            if k != self._nkept - 1:
                self._materialize()
            if self._pos is None:
                self._touched[k] = OP_DELETE
            else:
                self._touched[self._pos.pop(k)] = OP_DELETE
            self._nkept -= 1
        mark_changed(self)
        if isinstance(old, Ref):
            unlink(self, <Ref>old)
        return old

    cdef int _set_at(self, Py_ssize_t k, object value) except -1:
        old = self._items[k]
        is_ref = isinstance(value, Ref)
        if old is value or (not is_ref and old == value):
            return 0
        if is_ref:
            check_linkable(<Ref>value, self)
        self._unquiet()
        self._items[k] = value
        if k < self._nkept:
            self._changed_at(k, value)
        mark_changed(self)
        if isinstance(old, Ref):
            unlink(self, <Ref>old)
        if is_ref:
            link(self, <Ref>value)
        return 0

    cdef void _all_changed(self):
        self._unquiet()
        self._all_dirty = True
        mark_changed(self)

    cdef Py_ssize_t _index(self, object i) except? -1:
        cdef Py_ssize_t n = PyList_GET_SIZE(self._items)
        cdef Py_ssize_t k = i
        if k < 0:
            k += n
        if k < 0 or k >= n:
            raise IndexError("ArraySchema index out of range")
        return k

    # ---- sequence API -------------------------------------------------------

    def __len__(self):
        return PyList_GET_SIZE(self._items)

    def __iter__(self):
        return iter(self._items)

    def __reversed__(self):
        return reversed(self._items)

    def __contains__(self, value):
        return value in self._items

    def __getitem__(self, i):
        if isinstance(i, slice):
            return self._items[i]
        return self._items[i]

    def __setitem__(self, i, value):
        cdef Py_ssize_t start, stop, step, k
        if isinstance(i, slice):
            values = [self._check(v) for v in value]
            start, stop, step = i.indices(len(self._items))
            if step == 1:
                stop = max(stop, start)
                for k in range(stop - start):
                    self._delete_at(start)
                for k, v in enumerate(values):
                    self._insert_at(start + k, v)
            else:
                positions = range(start, stop, step)
                if len(positions) != len(values):
                    raise ValueError(f"attempt to assign sequence of size {len(values)} "
                                     f"to extended slice of size {len(positions)}")
                for k, v in zip(positions, values):
                    self._set_at(k, v)
            return
        if value is None:
            raise TypeError("ArraySchema items cannot be None (use del to remove one)")
        self._set_at(self._index(i), self._check(value))

    def __delitem__(self, i):
        if isinstance(i, slice):
            positions = sorted(range(*i.indices(len(self._items))), reverse=True)
            for k in positions:
                self._delete_at(k)
            return
        self._delete_at(self._index(i))

    def insert(self, i, value):
        cdef Py_ssize_t n = PyList_GET_SIZE(self._items)
        cdef Py_ssize_t k = i
        if value is None:
            raise TypeError("ArraySchema items cannot be None")
        value = self._check(value)
        if k < 0:
            k = max(0, k + n)
        self._insert_at(min(k, n), value)

    def append(self, value):
        if value is None:
            raise TypeError("ArraySchema items cannot be None")
        self._insert_at(PyList_GET_SIZE(self._items), self._check(value))

    def extend(self, values):
        for value in list(values):
            self.append(value)

    def push(self, *values):
        """Append the values (the Colyseus name); returns the new length."""
        for value in values:
            self.append(value)
        return len(self._items)

    def pop(self, i=-1):
        if not self._items:
            raise IndexError("pop from empty ArraySchema")
        return self._delete_at(self._index(i))

    def remove(self, value):
        self._delete_at(self._items.index(value))

    def index(self, value, start=0, stop=None):
        return self._items.index(value, start, len(self._items) if stop is None else stop)

    def count(self, value):
        return self._items.count(value)

    def clear(self):
        """Remove every item; sent as a single CLEAR."""
        if not self._items:
            return
        old = self._items
        self._items = []
        self._touched.clear()
        self._pos = None
        self._nkept = 0
        self._base_len = 0
        self._clear = True
        self._all_dirty = False
        self._quiet = QUIET_NONE
        mark_changed(self)
        for v in old:
            if isinstance(v, Ref):
                unlink(self, <Ref>v)

    def reverse(self):
        cdef Py_ssize_t n = PyList_GET_SIZE(self._items)
        if n < 2:
            return
        if ((self._quiet == QUIET_NONE or self._quiet == QUIET_REVERSE) and not self._clear
                and not self._all_dirty and not self._touched and self._nkept == n == self._base_len):
            # a lone reverse() is one REVERSE byte (two cancel out)
            self._items.reverse()
            self._quiet = QUIET_NONE if self._quiet == QUIET_REVERSE else QUIET_REVERSE
            mark_changed(self)
            return
        self._items.reverse()
        self._all_changed()

    def sort(self, *, key=None, reverse=False):
        self._items.sort(key=key, reverse=reverse)
        self._all_changed()

    def __iadd__(self, values):
        self.extend(values)
        return self

    def __eq__(self, other):
        if isinstance(other, ArraySchema):
            return self._items == (<ArraySchema>other)._items
        if isinstance(other, (list, tuple)):
            return self._items == list(other)
        return NotImplemented

    def copy(self):
        """An untracked ArraySchema of the same type with the same items."""
        return type(self)._typed(self.child, self._items) if self.child is not None else type(self)(self._items)

    def to_json(self):
        """A plain list of the items."""
        return [_json(v) for v in self._items]

    def _repr_content(self):
        return repr(self._items) if self._items else ""

    def __reduce__(self):
        return (_rebuild_collection, (type(self), self.child, list(self._items)))

    def _values_list(self):
        return list(self._items)

    def _retype_values(self):
        self._items = [self.child.check(v, self._label) for v in self._items]

    # ---- encoder side -----------------------------------------------------

    cdef bint has_changes(self):
        return (self._clear or self._quiet != QUIET_NONE or len(self._touched) > 0
                or (self._all_dirty and self._nkept > 0)
                or PyList_GET_SIZE(self._items) > self._nkept)

    cdef bint has_content(self):
        return PyList_GET_SIZE(self._items) > 0

    cdef int _write_ops(self, Tracker enc, Buf* b) except -1:
        cdef Py_ssize_t k, p, j, n = PyList_GET_SIZE(self._items)
        cdef int op
        cdef FieldType child = self.child
        if self._clear:
            buf_byte(b, OP_CLEAR)
        if self._quiet == QUIET_REVERSE:
            return buf_byte(b, OP_REVERSE)
        if self._quiet == QUIET_UNSHIFT:
            buf_byte(b, OP_ADD)
            write_uint(b, 0)
            return enc.write_item(b, child, self._items[0], OP_ADD, False)
        if self._all_dirty:
            for k in range(self._nkept):
                p = self._pos_of(k)
                value = <object>PyList_GET_ITEM(self._items, k)
                op = self._touched.get(p, OP_REPLACE)
                if op == OP_REPLACE and isinstance(value, Ref):
                    op = OP_DELETE_AND_ADD
                buf_byte(b, op)
                write_uint(b, p)
                enc.write_item(b, child, value, op, False)
            for p, op in self._touched.items():
                if op == OP_DELETE:
                    buf_byte(b, OP_DELETE)
                    write_uint(b, p)
        else:
            for p, op in self._touched.items():
                buf_byte(b, op)
                write_uint(b, p)
                if op == OP_DELETE:
                    continue
                k = p if self._pos is None else bisect_left(self._pos, p)
                enc.write_item(b, child, <object>PyList_GET_ITEM(self._items, k), op, False)
        for j in range(n - self._nkept):
            buf_byte(b, OP_ADD)
            write_uint(b, self._base_len + j)
            enc.write_item(b, child, <object>PyList_GET_ITEM(self._items, self._nkept + j), OP_ADD, False)
        return 0

    cdef int write_full(self, Tracker enc, Buf* b) except -1:
        cdef Py_ssize_t k, n = PyList_GET_SIZE(self._items)
        for k in range(n):
            buf_byte(b, OP_ADD)
            write_uint(b, k)
            enc.write_item(b, self.child, <object>PyList_GET_ITEM(self._items, k), OP_ADD, False)
        return 0

    cdef void discard_changes(self):
        self._base_len = PyList_GET_SIZE(self._items)
        self._nkept = self._base_len
        self._pos = None
        self._touched.clear()
        self._clear = False
        self._all_dirty = False
        self._quiet = QUIET_NONE

    cdef list child_refs(self):
        return [v for v in self._items if isinstance(v, Ref)]

    cdef void resend_all(self):
        # CLEAR then every item: plain ADDs would hit the decoder's "ADD 0 on an
        # occupied slot inserts" rule if it still holds this array.
        self._clear = True
        self._base_len = 0
        self._nkept = 0
        self._pos = None
        self._touched.clear()
        self._all_dirty = False
        self._quiet = QUIET_NONE

    # ---- raw access for the decoder ---------------------------------------

    def _raw_list(self):
        return self._items

    def _raw_replace(self, list items):
        self._items = items


# ==========================================================================
# SetSchema and CollectionSchema
# ==========================================================================

cdef class _Indexed(_Collection):
    cdef dict _items          # wire index -> value
    cdef Py_ssize_t _counter
    cdef dict _changes
    cdef bint _clear
    cdef bint _rewrite
    cdef bint _index_safe     # every decoder numbers the items like the wire
    cdef bint _safe_now       # _index_safe as it was at the start of this patch

    def __cinit__(self, *args, **kwargs):
        self._items = {}
        self._changes = {}
        self._index_safe = True
        self._safe_now = True

    cdef object _find(self, object value):
        for idx, v in self._items.items():
            if v is value or (not isinstance(v, Ref) and v == value):
                return idx
        return None

    cdef int _add_item(self, object value) except -1:
        cdef bint is_ref = isinstance(value, Ref)
        if is_ref:
            check_linkable(<Ref>value, self)
        idx = self._counter
        self._counter += 1
        self._items[idx] = value
        self._on_added(idx, value)
        merge_op(self._changes, idx, OP_ADD)
        mark_changed(self)
        if is_ref:
            link(self, <Ref>value)
        return 0

    cdef int _remove_index(self, object idx) except -1:
        old = self._items.pop(idx)
        self._on_removed(idx, old)
        if self._safe_now:
            self._changes[idx] = OP_DELETE
        else:
            self._rewrite = True
        # Numbering now differs for clients that join later: removals from now on
        # are sent as CLEAR + every item.
        self._index_safe = False
        mark_changed(self)
        if isinstance(old, Ref):
            unlink(self, <Ref>old)
        return 0

    cdef void _on_added(self, object idx, object value):
        pass

    cdef void _on_removed(self, object idx, object value):
        pass

    def clear(self):
        """Remove every item; sent as a single CLEAR."""
        if not self._items and not self._changes and not self._rewrite:
            return
        old = list(self._items.values())
        self._items.clear()
        self._on_cleared()
        self._changes.clear()
        self._clear = True
        self._rewrite = False
        self._index_safe = False
        mark_changed(self)
        for v in old:
            if isinstance(v, Ref):
                unlink(self, <Ref>v)

    def _on_cleared(self):
        pass

    def __len__(self):
        return len(self._items)

    def __iter__(self):
        return iter(list(self._items.values()))

    def __contains__(self, value):
        return self._find(value) is not None

    def to_json(self):
        """A plain list of the items."""
        return [_json(v) for v in self._items.values()]

    def _repr_content(self):
        return repr(list(self._items.values())) if self._items else ""

    def __reduce__(self):
        return (_rebuild_collection, (type(self), self.child, list(self._items.values())))

    def _values_list(self):
        return list(self._items.values())

    def _retype_values(self):
        for idx, value in list(self._items.items()):
            self._items[idx] = self.child.check(value, self._label)

    # ---- encoder side -----------------------------------------------------

    cdef bint has_changes(self):
        return self._rewrite or self._clear or len(self._changes) > 0

    cdef bint has_content(self):
        return len(self._items) > 0

    cdef int _write_ops(self, Tracker enc, Buf* b) except -1:
        cdef int op
        if self._rewrite:
            buf_byte(b, OP_CLEAR)
            return self.write_full(enc, b)
        if self._clear:
            buf_byte(b, OP_CLEAR)
        for idx, op in self._changes.items():
            buf_byte(b, op)
            write_uint(b, idx)
            if op != OP_DELETE:
                enc.write_item(b, self.child, self._items[idx], op, False)
        return 0

    cdef int write_full(self, Tracker enc, Buf* b) except -1:
        for idx, value in self._items.items():
            buf_byte(b, OP_ADD)
            write_uint(b, idx)
            enc.write_item(b, self.child, value, OP_ADD, False)
        return 0

    cdef void discard_changes(self):
        self._changes.clear()
        self._clear = False
        self._rewrite = False
        self._safe_now = self._index_safe

    cdef list child_refs(self):
        return [v for v in self._items.values() if isinstance(v, Ref)]

    cdef void resend_all(self):
        self._rewrite = True
        self._index_safe = False

    # ---- raw access for the decoder ---------------------------------------

    def _raw_set(self, idx, value):
        self._items[idx] = value
        self._on_added(idx, value)

    def _raw_del(self, idx):
        old = self._items.pop(idx, None)
        if old is not None:
            self._on_removed(idx, old)
        return old

    def _raw_clear(self):
        self._items.clear()
        self._on_cleared()

    def _raw_get(self, idx):
        return self._items.get(idx)

    def _raw_items(self):
        return list(self._items.items())


cdef class SetSchema(_Indexed):
    """A set whose changes are sent to clients (insertion order kept)."""
    cdef dict _lookup         # value -> wire index

    def __cinit__(self, *args, **kwargs):
        self.kind = T_SET
        self._lookup = {}

    def __init__(self, initial=(), /):
        for value in initial:
            self.add(value)

    cdef object _find(self, object value):
        try:
            return self._lookup.get(value)
        except TypeError:
            return None

    cdef void _on_added(self, object idx, object value):
        self._lookup[value] = idx

    cdef void _on_removed(self, object idx, object value):
        if self._lookup.get(value) == idx:
            del self._lookup[value]

    def _on_cleared(self):
        self._lookup.clear()

    def add(self, value):
        """Add the value unless an equal one is present."""
        if value is None:
            raise TypeError("SetSchema items cannot be None")
        value = self._check(value)
        if self._find(value) is None:
            self._add_item(value)

    def discard(self, value):
        idx = self._find(value)
        if idx is not None:
            self._remove_index(idx)

    def remove(self, value):
        idx = self._find(value)
        if idx is None:
            raise KeyError(value)
        self._remove_index(idx)

    def pop(self):
        if not self._items:
            raise KeyError("pop from an empty SetSchema")
        idx = next(iter(self._items))
        value = self._items[idx]
        self._remove_index(idx)
        return value

    def update(self, *iterables):
        for it in iterables:
            for value in it:
                self.add(value)

    def _as_set(self):
        return set(self._items.values())

    def __eq__(self, other):
        if isinstance(other, SetSchema):
            return self._as_set() == (<SetSchema>other)._as_set()
        if isinstance(other, (set, frozenset)):
            return self._as_set() == other
        return NotImplemented

    def __le__(self, other):
        return self._as_set() <= set(other)

    def __lt__(self, other):
        return self._as_set() < set(other)

    def __ge__(self, other):
        return self._as_set() >= set(other)

    def __gt__(self, other):
        return self._as_set() > set(other)

    def __or__(self, other):
        return self._as_set() | set(other)

    def __and__(self, other):
        return self._as_set() & set(other)

    def __sub__(self, other):
        return self._as_set() - set(other)

    def __xor__(self, other):
        return self._as_set() ^ set(other)

    def __ior__(self, other):
        self.update(other)
        return self

    def __iand__(self, other):
        keep = set(other)
        for value in list(self._items.values()):
            if value not in keep:
                self.discard(value)
        return self

    def __isub__(self, other):
        for value in list(other):
            self.discard(value)
        return self

    def __ixor__(self, other):
        for value in set(other):
            if value in self:
                self.discard(value)
            else:
                self.add(value)
        return self

    def isdisjoint(self, other):
        return self._as_set().isdisjoint(other)

    def copy(self):
        """An untracked SetSchema of the same type with the same items."""
        items = list(self._items.values())
        return type(self)._typed(self.child, items) if self.child is not None else type(self)(items)

    def _retype_values(self):
        _Indexed._retype_values(self)
        self._lookup = {v: i for i, v in self._items.items()}


cdef class CollectionSchema(_Indexed):
    """A bag (duplicates allowed, insertion order kept) whose changes are sent to clients."""

    def __cinit__(self, *args, **kwargs):
        self.kind = T_COLLECTION

    def __init__(self, initial=(), /):
        for value in initial:
            self.add(value)

    def add(self, value):
        """Add the value (duplicates allowed)."""
        if value is None:
            raise TypeError("CollectionSchema items cannot be None")
        self._add_item(self._check(value))

    def remove(self, value):
        """Remove the first item equal to ``value``."""
        idx = self._find(value)
        if idx is None:
            raise ValueError("CollectionSchema.remove(x): x not in collection")
        self._remove_index(idx)

    def discard(self, value):
        idx = self._find(value)
        if idx is not None:
            self._remove_index(idx)

    def extend(self, values):
        for value in list(values):
            self.add(value)

    def __getitem__(self, i):
        return list(self._items.values())[i]

    def count(self, value):
        return sum(1 for v in self._items.values() if v is value or (not isinstance(v, Ref) and v == value))

    def __eq__(self, other):
        if isinstance(other, CollectionSchema):
            return Counter(self._items.values()) == Counter((<CollectionSchema>other)._items.values())
        if isinstance(other, (list, tuple)):
            return Counter(self._items.values()) == Counter(other)
        return NotImplemented

    def copy(self):
        """An untracked CollectionSchema of the same type with the same items."""
        items = list(self._items.values())
        return type(self)._typed(self.child, items) if self.child is not None else type(self)(items)


def _rebuild_collection(cls, child, content):
    return cls._typed(child, content) if child is not None else cls(content)


MutableMapping.register(MapSchema)
MutableSequence.register(ArraySchema)
MutableSet.register(SetSchema)

register_collection_class(T_MAP, MapSchema)
register_collection_class(T_ARRAY, ArraySchema)
register_collection_class(T_SET, SetSchema)
register_collection_class(T_COLLECTION, CollectionSchema)
