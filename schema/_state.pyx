# cython: language_level=3
"""Schema instances: field storage, the tracked assignment path and their blocks.

Every declared field is a ``Field`` descriptor on the class. Assigning through it
checks the value, compares it with the current one and records the wire op for
that field index (first-touch order, with the 3.x merge rule). The Encoder then
asks the instance to write those ops (``write_changes``) or all of its set fields
(``write_full``).
"""
from cpython.float cimport PyFloat_AS_DOUBLE
from cpython.list cimport PyList_GET_ITEM
from libc.string cimport memset

from ._encoder cimport (
    Buf, Encoder, FieldType, Ref, OP_ADD, OP_DELETE, OP_DELETE_AND_ADD, OP_NONE, OP_REPLACE,
    T_FLOAT32, T_FLOAT64, T_LAST_PRIMITIVE, T_MAP, T_NUMBER, T_REF, buf_byte, check_linkable,
    link, mark_changed, put_u32, sch_f32_bits, unlink, write_primitive,
)

cdef extern from "Python.h":
    bint PyFloat_CheckExact(object o)

MAX_FIELDS = 63


cdef class SchemaInfo:
    """What the wire needs to know about one Schema class (built at class creation)."""
    cdef readonly object cls
    cdef readonly tuple fields          # Field descriptors, by index
    cdef readonly dict by_name
    cdef readonly int nfields
    cdef readonly bint ready
    cdef tuple types                    # FieldType of each index (after resolve)
    cdef tuple ref_indexes              # indexes of fields holding structures
    cdef int codes[64]
    cdef object resolver

    def __init__(self, cls, fields, resolver):
        if len(fields) > MAX_FIELDS:
            raise ValueError("too many fields")
        self.cls = cls
        self.fields = tuple(fields)
        self.nfields = len(self.fields)
        self.by_name = {f.name: f for f in self.fields}
        self.resolver = resolver
        self.ready = False

    cdef int ensure_ready(self) except -1:
        cdef Field f
        cdef int i
        if self.ready:
            return 0
        self.resolver(self.cls)   # sets Field.type on every field, or raises
        for i, f in enumerate(self.fields):
            self.codes[i] = f.type.code
        self.types = tuple(f.type for f in self.fields)
        self.ref_indexes = tuple(i for i, f in enumerate(self.fields) if f.type.code >= T_REF)
        self.ready = True
        return 0

    def resolve(self):
        """Resolve the field annotations now (they are otherwise resolved on first use)."""
        self.ensure_ready()


cdef class Field:
    """A declared Schema field: a data descriptor that records every assignment."""
    cdef readonly str name
    cdef readonly int index
    cdef readonly object owner          # the class that declared it
    cdef readonly object annotation
    cdef readonly object default
    cdef readonly object default_factory
    cdef readonly bint has_default
    cdef readonly FieldType type
    cdef str where

    def __init__(self, str name, int index, owner, annotation, default, default_factory, bint has_default):
        self.name = name
        self.index = index
        self.owner = owner
        self.annotation = annotation
        self.default = default
        self.default_factory = default_factory
        self.has_default = has_default
        self.where = f"{owner.__name__}.{name}"

    def _set_type(self, FieldType t):
        self.type = t

    def __get__(self, obj, objtype):
        if obj is None:
            return self
        return (<SchemaCore>obj)._vals[self.index]

    def __set__(self, obj, value):
        (<SchemaCore>obj).assign(self, value)

    def __delete__(self, obj):
        (<SchemaCore>obj).assign(self, None)

    def initial_value(self):
        """The value a new instance starts with (None when the field starts unset)."""
        if self.default_factory is not None:
            return self.default_factory()
        if self.has_default:
            return self.default
        if self.type is not None and self.type.code >= T_MAP:
            return self.type.validate({} if self.type.code == T_MAP else (), self.where)
        return None

    def __repr__(self):
        return f"<Field {self.where} #{self.index}: {self.type!r}>"


cdef class SchemaCore(Ref):
    """Compiled base of ``schema.Schema``; see that class for the user API."""
    cdef list _vals
    cdef SchemaInfo _info
    cdef unsigned char ops[64]          # op per field index recorded in this patch
    cdef unsigned char order[64]        # field indexes in first-touch order
    cdef unsigned char fullorder[64]    # indexes holding a value, in first-set order
    cdef int norder
    cdef int nfull
    cdef unsigned long long fullmask

    def __cinit__(self, *args, **kwargs):
        cdef SchemaInfo info
        try:
            info = type(self).__schema_info__
        except AttributeError:
            raise TypeError(f"{type(self).__name__} is not a declared Schema class") from None
        info.ensure_ready()
        self._info = info
        self.kind = T_REF
        self._vals = [None] * info.nfields
        memset(self.ops, OP_NONE, 64)

    def __init__(self, **kwargs):
        cdef Field f
        cdef SchemaInfo info = self._info
        if kwargs:
            for name in kwargs:
                if name not in info.by_name:
                    raise TypeError(f"{type(self).__name__}() got an unexpected keyword argument {name!r}")
            for f in info.fields:
                value = kwargs[f.name] if f.name in kwargs else f.initial_value()
                if value is not None:
                    self.assign(f, value)
        else:
            for f in info.fields:
                value = f.initial_value()
                if value is not None:
                    self.assign(f, value)

    # ---- the tracked assignment path -------------------------------------

    cdef inline void record(self, int i, int op):
        cdef unsigned char prev = self.ops[i]
        if prev == OP_NONE:
            self.ops[i] = op
            self.order[self.norder] = i
            self.norder += 1
        elif prev == OP_DELETE:
            self.ops[i] = OP_DELETE_AND_ADD
        elif prev == OP_REPLACE:
            self.ops[i] = op
        if not (self.fullmask >> i) & 1:
            self.fullmask |= (1ULL << i)
            self.fullorder[self.nfull] = i
            self.nfull += 1
        mark_changed(self)

    cdef int assign(self, Field f, object value) except -1:
        cdef int i = f.index
        cdef int code = f.type.code
        cdef object old = <object>PyList_GET_ITEM(self._vals, i)
        cdef int op
        if value is None:
            return self.remove(i)
        if code == T_FLOAT32 or code == T_FLOAT64 or code == T_NUMBER:
            if PyFloat_CheckExact(value):
                if PyFloat_CheckExact(old) and PyFloat_AS_DOUBLE(old) == PyFloat_AS_DOUBLE(value):
                    return 0
            else:
                value = f.type.check(value, f.where)
                if old is not None and old == value:
                    return 0
            self._vals[i] = value
            self.record(i, OP_ADD)
            return 0
        value = f.type.check(value, f.where)
        if code <= T_LAST_PRIMITIVE:
            if old is not None and old == value:
                return 0
            self._vals[i] = value
            self.record(i, OP_ADD)
            return 0
        if old is value:
            return 0
        check_linkable(<Ref>value, self)
        self._vals[i] = value
        self.record(i, OP_ADD if old is None else OP_DELETE_AND_ADD)
        if old is not None:
            if code > T_REF and self.root is not None and not (<Ref>old).is_new:
                # The 3.x decoder releases the items of a replaced collection twice
                # (at the op, and when it frees the collection). Items that stay in
                # the state would be lost, so the Encoder may empty it first.
                items = (<Ref>old).child_refs()
                if items or (<Ref>old).has_changes():
                    self.root.preclear.append(((<Ref>old).refid, items, (<Ref>old).has_changes()))
            unlink(self, <Ref>old)
        link(self, <Ref>value)
        return 0

    cdef int remove(self, int i) except -1:
        cdef object old = self._vals[i]
        cdef int j
        if old is None:
            return 0
        self._vals[i] = None
        if self.ops[i] == OP_NONE:
            self.order[self.norder] = i
            self.norder += 1
        self.ops[i] = OP_DELETE
        if (self.fullmask >> i) & 1:
            self.fullmask &= ~(1ULL << i)
            for j in range(self.nfull):
                if self.fullorder[j] == i:
                    self.nfull -= 1
                    while j < self.nfull:
                        self.fullorder[j] = self.fullorder[j + 1]
                        j += 1
                    break
        mark_changed(self)
        if self._info.codes[i] >= T_REF:
            unlink(self, <Ref>old)
        return 0

    # ---- what the Encoder asks --------------------------------------------

    cdef bint has_changes(self):
        return self.norder > 0

    cdef bint has_content(self):
        return self.nfull > 0

    cdef int write_changes(self, Encoder enc, Buf* b) except -1:
        cdef int j, i, op, code, nxt
        cdef object value
        cdef list vals = self._vals
        cdef SchemaInfo info = self._info
        for j in range(self.norder):
            i = self.order[j]
            op = self.ops[i]
            buf_byte(b, <unsigned char>(op | i))
            if op == OP_DELETE:
                continue
            code = info.codes[i]
            value = <object>PyList_GET_ITEM(vals, i)
            if code == T_FLOAT32 and PyFloat_CheckExact(value):
                put_u32(b, sch_f32_bits(PyFloat_AS_DOUBLE(value)))
            elif code <= T_LAST_PRIMITIVE:
                write_primitive(b, code, value)
            else:
                nxt = 0
                if j + 1 < self.norder:
                    nxt = self.order[j + 1]
                    nxt = self.ops[nxt] | nxt
                enc.write_item(b, <FieldType>info.types[i], value, op, nxt == 0xd5)
        return 0

    cdef int write_full(self, Encoder enc, Buf* b) except -1:
        cdef int j, i, code
        cdef object value
        cdef list vals = self._vals
        cdef SchemaInfo info = self._info
        for j in range(self.nfull):
            i = self.fullorder[j]
            buf_byte(b, <unsigned char>(OP_ADD | i))
            code = info.codes[i]
            value = <object>PyList_GET_ITEM(vals, i)
            if code == T_FLOAT32 and PyFloat_CheckExact(value):
                put_u32(b, sch_f32_bits(PyFloat_AS_DOUBLE(value)))
            elif code <= T_LAST_PRIMITIVE:
                write_primitive(b, code, value)
            else:
                enc.write_item(b, <FieldType>info.types[i], value, OP_ADD, False)
        return 0

    cdef void discard_changes(self):
        cdef int j
        for j in range(self.norder):
            self.ops[self.order[j]] = OP_NONE
        self.norder = 0

    cdef list child_refs(self):
        cdef list out = []
        for i in self._info.ref_indexes:
            v = self._vals[i]
            if v is not None:
                out.append(v)
        return out

    cdef void resend_all(self):
        # Fields already pending keep their op; every other set field is re-sent
        # as ADD, highest index first (the order 3.x uses).
        cdef int i
        for i in range(self._info.nfields - 1, -1, -1):
            if (self.fullmask >> i) & 1 and self.ops[i] == OP_NONE:
                self.ops[i] = OP_ADD
                self.order[self.norder] = i
                self.norder += 1

    # ---- raw access for the decoder (no tracking) ---------------------------

    def _raw_get(self, int index):
        return self._vals[index]

    def _raw_set(self, int index, value):
        self._vals[index] = value

    def _raw_values(self):
        return list(self._vals)

    # ---- conveniences -------------------------------------------------------

    def to_json(self):
        """The fields that are set, as plain dicts, lists and values."""
        cdef Field f
        out = {}
        for f in self._info.fields:
            v = self._vals[f.index]
            if v is None:
                continue
            out[f.name] = v.to_json() if isinstance(v, Ref) else v
        return out

    def __repr__(self):
        cdef Field f
        parts = []
        for f in self._info.fields:
            v = self._vals[f.index]
            if v is not None:
                parts.append(f"{f.name}={v!r}")
        return f"{type(self).__name__}({', '.join(parts)})"

    def __reduce__(self):
        cdef Field f
        return (_rebuild, (type(self), {f.name: self._vals[f.index] for f in self._info.fields
                                        if self._vals[f.index] is not None}))


def _rebuild(cls, values):
    # Used by pickle and copy: a new untracked instance with the same field values.
    obj = cls.__new__(cls)
    for name, value in values.items():
        setattr(obj, name, value)
    return obj
