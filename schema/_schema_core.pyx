# cython: language_level=3, binding=False
"""Schema instances (declared in _schema_core.pxd): ``SchemaCore``, the compiled
base of ``Schema``, with ``SchemaInfo`` describing each class and ``Field``
each field.

Their assignment path and their blocks are the hot paths: field values sit in
the instance's slots, and every write goes through ``SchemaCore.__setattr__``,
which checks the value, compares it with the current one and records the wire
op for that field index (first-touch order, with the 3.x merge rule).
"""
from cpython.buffer cimport PyBUF_FORMAT, PyBUF_STRIDES, PyBuffer_Release, PyObject_CheckBuffer, PyObject_GetBuffer
from cpython.float cimport PyFloat_AS_DOUBLE, PyFloat_FromDouble
from cpython.long cimport PyLong_AsLongLong
from cpython.mem cimport PyMem_Free, PyMem_Malloc
from cpython.object cimport PyObject, PyTypeObject, Py_TYPE
from cpython.ref cimport Py_INCREF, Py_XDECREF
from libc.stdint cimport uint32_t
from libc.string cimport memset

from ._buffer cimport sch_f32_bits
from ._spec cimport ADD, DELETE_AND_ADD, FLOAT64, MAP, NUMBER, REF, REPLACE
from ._tracking cimport check_linkable, collection_leaves, link, mark_changed, unlink

from types import MemberDescriptorType as _MemberDescriptor

MAX_FIELDS = 63
cdef object _NOT_GIVEN = object()

cdef extern from "Python.h":
    bint PyFloat_CheckExact(object o)
    double PyFloat_AsDouble(object o) except? -1.0
    PyObject* _list_item "PyList_GET_ITEM"(object l, Py_ssize_t i)

# Field values are kept in the instance's __slots__ (see SchemaCore). A slot is
# NULL only if someone deleted it behind our back (through the class's member
# descriptor); it then reads as None.
cdef extern from "structmember.h":
    ctypedef struct PyMemberDef:
        Py_ssize_t offset

cdef extern from "Python.h":
    ctypedef struct PyMemberDescrObject:
        PyMemberDef* d_member
    PyTypeObject PyMemberDescr_Type
    PyTypeObject* _ob_type "Py_TYPE"(PyObject* o)
    PyObject* _PyType_Lookup(PyTypeObject* t, object name)
    int PyObject_GenericSetAttr(object o, object name, object value) except -1
    int _generic_delattr "PyObject_GenericSetAttr"(object o, object name, PyObject* value) except -1


cdef inline object _value(SchemaCore s, int i):
    return <object>slot_get(s, s._info.offsets[i])


cdef inline void _slot_put(SchemaCore s, Py_ssize_t offset, object value) noexcept:
    cdef PyObject** p = <PyObject**>((<char*><PyObject*>s) + offset)
    cdef PyObject* old = p[0]
    Py_INCREF(value)
    p[0] = <PyObject*>value
    Py_XDECREF(old)


cdef Py_ssize_t _slot_offset(object cls, str name) except -1:
    descr = cls.__dict__.get(name)
    if type(descr) is not _MemberDescriptor:
        raise TypeError(f"{cls.__name__}.{name} has no slot (Schema classes get them from their metaclass)")
    return (<PyMemberDescrObject*>descr).d_member.offset


cdef inline void _record(SchemaCore s, int i, int op):
    # Record an op for field i (the 3.x merge rule when it was touched already).
    cdef unsigned char prev = s.rec[i].op
    if prev == OP_NONE:
        s.rec[i].op = op
        s.rec[s.nops].order = i
        s.nops += 1
    elif prev == DELETE:
        s.rec[i].op = DELETE_AND_ADD
    elif prev == REPLACE:
        s.rec[i].op = op
    if not (s.fullmask >> i) & 1:
        s.fullmask |= (1ULL << i)
        s.rec[s.nfull].full = i
        s.nfull += 1
    mark_changed(s)


cdef inline int _keep_bits(SchemaCore s, int i, int code, object value) except -1:
    # Keep the wire bytes of a _has_bits field's new value (any other: nothing).
    if code == FLOAT32:
        s.rec[i].bits = sch_f32_bits(PyFloat_AS_DOUBLE(value) if PyFloat_CheckExact(value)
                                     else PyFloat_AsDouble(value))
    elif INT8 <= code <= UINT32:
        s.rec[i].bits = <uint32_t>PyLong_AsLongLong(value)
    return 0


cdef class SchemaInfo:
    """What the wire needs to know about one Schema class (built at class creation)."""

    def __init__(self, cls, fields, resolver):
        cdef Field f
        if len(fields) > MAX_FIELDS:
            raise ValueError("too many fields")
        self.cls = cls
        self.fields = tuple(fields)
        self.nfields = len(self.fields)
        self.by_name = {f.name: f for f in self.fields}
        self.resolver = resolver
        self.ready = False
        for i, f in enumerate(self.fields):
            if f.owner is cls:
                f.offset = _slot_offset(cls, f.name)
            self.offsets[i] = f.offset
        # Field by slot position, for SchemaCore.__setattr__ (None: not a field)
        self.slot_base = min([f.offset for f in self.fields], default=0)
        self.by_slot = [None] * (max([f.offset for f in self.fields], default=-1) // sizeof(PyObject*)
                                 - self.slot_base // sizeof(PyObject*) + 1)
        for f in self.fields:
            self.by_slot[(f.offset - self.slot_base) // sizeof(PyObject*)] = f
        self.nslots = len(self.by_slot)
        self.view_mask = 0
        for i, f in enumerate(self.fields):
            if f.view is not None:
                self.view_mask |= 1ULL << i

    cdef int ensure_ready(self) except -1:
        cdef Field f
        cdef int i
        if self.ready:
            return 0
        self.resolver(self.cls)   # sets Field.type on every field, or raises
        for i, f in enumerate(self.fields):
            self.codes[i] = f.type.code
        self.types = tuple(f.type for f in self.fields)
        self.ref_indexes = tuple(i for i, f in enumerate(self.fields) if f.type.code >= REF)
        self.shared_ref_indexes = tuple(i for i in self.ref_indexes if not (self.view_mask >> i) & 1)
        self.ready = True
        return 0

    def resolve(self):
        """Resolve the field annotations now (they are otherwise resolved on first use)."""
        self.ensure_ready()


cdef class Field:
    """A declared Schema field (its value lives in a slot of the instance)."""

    def __init__(self, str name, int index, owner, annotation, default, default_factory, bint has_default,
                 view=None, wire_name=None):
        self.view = view
        self.name = name
        self.wire_name = wire_name or name
        self.index = index
        self.owner = owner
        self.annotation = annotation
        self.default = default
        self.default_factory = default_factory
        self.has_default = has_default
        self.where = f"{owner.__name__}.{name}"

    def _set_type(self, FieldType t):
        self.type = t
        self.code = t.code

    cdef object _initial(self):
        if self.default_factory is not None:
            return self.default_factory()
        if self.has_default:
            return self.default
        if self.type is not None and self.type.code >= MAP:
            return self.type.validate({} if self.type.code == MAP else (), self.where)
        return None

    def __repr__(self):
        return f"<Field {self.where} #{self.index}: {self.type!r}>"


cdef class SchemaCore(Ref):
    """Compiled base of ``pyseus.schema.Schema``; see that class for the user API."""

    def __cinit__(self, *args, **kwargs):
        cdef SchemaInfo info
        try:
            info = type(self).__schema_info__
        except AttributeError:
            raise TypeError(f"{type(self).__name__} is not a declared Schema class") from None
        info.ensure_ready()
        self._info = info
        self.kind = REF
        for i in range(info.nfields):
            _slot_put(self, info.offsets[i], None)
        if info.nfields <= INLINE_FIELDS:
            self.rec = self.inline_rec
        else:
            self.rec = <FieldRec*>PyMem_Malloc(info.nfields * sizeof(FieldRec))
            if self.rec == NULL:
                raise MemoryError()
        memset(self.rec, 0xff, info.nfields * sizeof(FieldRec))   # every op OP_NONE

    def __dealloc__(self):
        if self.rec != self.inline_rec:
            PyMem_Free(self.rec)

    def __init__(self, **kwargs):
        cdef Field f
        cdef SchemaInfo info = self._info
        cdef Py_ssize_t used = 0
        for f in info.fields:
            value = kwargs.get(f.name, _NOT_GIVEN) if kwargs else _NOT_GIVEN
            if value is _NOT_GIVEN:
                value = f._initial()
            else:
                used += 1
            if value is not None:
                self.assign(f, value)
        if used != len(kwargs):
            for name in kwargs:
                if name not in info.by_name:
                    raise TypeError(f"{type(self).__name__}() got an unexpected keyword argument {name!r}")

    # ---- the tracked assignment path -------------------------------------

    # Reads are plain slot reads (the interpreter's fast path); every write of
    # a field comes through here.
    def __setattr__(self, name, value):
        cdef PyObject* f = self._field_at(name)
        if f != NULL:
            self.assign(<Field>f, value)
        elif (_PyType_Lookup(Py_TYPE(self), name) != NULL
              or (isinstance(name, str) and (<str>name).startswith("_"))):
            # the class's own attributes (slots, properties) and private names
            PyObject_GenericSetAttr(self, name, value)
        else:
            # anything else would be kept here and never reach a client
            fields = ", ".join(self._info.by_name) or "none"
            raise AttributeError(
                f"{type(self).__name__} has no field {name!r} (its fields: {fields}); declare it with an "
                "annotation, or use a name starting with '_' for an attribute that is not synchronised")

    def __delattr__(self, name):
        cdef PyObject* f = self._field_at(name)
        if f == NULL:
            _generic_delattr(self, name, NULL)
        else:
            self.assign(<Field>f, None)

    cdef PyObject* _field_at(self, object name):
        # The Field whose slot `name` names, or NULL. The class attribute lookup
        # is the interpreter's cached one; the slot's offset then picks the Field.
        cdef PyObject* descr = _PyType_Lookup(Py_TYPE(self), name)
        cdef PyObject* f
        cdef Py_ssize_t k
        if descr == NULL or _ob_type(descr) != &PyMemberDescr_Type:
            return NULL
        k = ((<PyMemberDescrObject*>descr).d_member.offset - self._info.slot_base) // sizeof(PyObject*)
        if k < 0 or k >= self._info.nslots:
            return NULL
        f = _list_item(self._info.by_slot, k)
        return NULL if f == <PyObject*>None else f      # None: a slot of the class's own

    cdef int assign(self, Field f, object value) except -1:
        cdef int i = f.index
        cdef int code = f.code
        cdef object old = <object>slot_get(self, f.offset)
        if value is None:
            return self.remove(i)
        if code == FLOAT32 or code == FLOAT64 or code == NUMBER:
            if PyFloat_CheckExact(value):
                if PyFloat_CheckExact(old) and PyFloat_AS_DOUBLE(old) == PyFloat_AS_DOUBLE(value):
                    return 0
            else:
                value = f.type.check(value, f.where)
                if old is not None and old == value:
                    return 0
            _slot_put(self, f.offset, value)
            _keep_bits(self, i, code, value)   # the patch walk never touches the float object
            _record(self, i, ADD)
            return 0
        value = f.type.check(value, f.where)
        if code <= LAST_PRIMITIVE:
            if old is not None and old == value:
                return 0
            _slot_put(self, f.offset, value)
            _keep_bits(self, i, code, value)
            _record(self, i, ADD)
            return 0
        if old is value:
            return 0
        check_linkable(<Ref>value, self)
        _slot_put(self, f.offset, value)
        _record(self, i, ADD if old is None else DELETE_AND_ADD)
        cdef bint view_slot = (self._info.view_mask >> i) & 1
        if old is not None:
            if code > REF:
                collection_leaves(self, <Ref>old)
            unlink(self, <Ref>old, view_slot)
        link(self, <Ref>value, view_slot)
        return 0

    cdef int remove(self, int i) except -1:
        cdef object old = _value(self, i)
        cdef int j
        if old is None:
            return 0
        _slot_put(self, self._info.offsets[i], None)
        if self.rec[i].op == OP_NONE:
            self.rec[self.nops].order = i
            self.nops += 1
        self.rec[i].op = DELETE
        if (self.fullmask >> i) & 1:
            self.fullmask &= ~(1ULL << i)
            for j in range(self.nfull):
                if self.rec[j].full == i:
                    self.nfull -= 1
                    while j < self.nfull:
                        self.rec[j].full = self.rec[j + 1].full
                        j += 1
                    break
        mark_changed(self)
        if self._info.codes[i] > REF:
            collection_leaves(self, <Ref>old)
        if self._info.codes[i] >= REF:
            unlink(self, <Ref>old, (self._info.view_mask >> i) & 1)
        return 0

    # ---- what the Encoder asks --------------------------------------------

    cdef bint has_changes(self):
        return self.nops > 0

    cdef bint has_content(self):
        return self.nfull > 0

    cdef int write_changes(self, Tracker enc, Buf* b) except -1:
        return write_schema_changes(self, enc, b)

    cdef int write_full(self, Tracker enc, Buf* b) except -1:
        cdef int j, i
        cdef SchemaInfo info = self._info
        cdef unsigned long long hidden = info.view_mask if enc.views else 0
        for j in range(self.nfull):
            i = self.rec[j].full
            if (hidden >> i) & 1:
                continue            # a view field: only in view parts
            if b.len + 5 > b.cap:
                buf_grow(b, 5)
            b.data[b.len] = <unsigned char>(ADD | i)
            b.len += 1
            write_value(self, enc, b, info, i, info.codes[i], ADD, False)
        return 0

    cdef void discard_changes(self):
        cdef int j
        for j in range(self.nops):
            self.rec[self.rec[j].order].op = OP_NONE
        self.nops = 0

    cdef list child_refs(self):
        cdef list out = []
        for i in self._info.ref_indexes:
            v = _value(self, i)
            if v is not None:
                out.append(v)
        return out

    cdef list shared_child_refs(self):
        cdef list out = []
        for i in self._info.shared_ref_indexes:
            v = _value(self, i)
            if v is not None:
                out.append(v)
        return out

    cdef void resend_all(self):
        # Fields already pending keep their op; every other set field is re-sent
        # as ADD, highest index first (the order 3.x uses).
        cdef int i
        for i in range(self._info.nfields - 1, -1, -1):
            if (self.fullmask >> i) & 1 and self.rec[i].op == OP_NONE:
                self.rec[i].op = ADD
                self.rec[self.nops].order = i
                self.nops += 1

    # ---- raw access for the decoder (no tracking) ---------------------------

    def _raw_get(self, int index):
        self._check_index(index)
        return _value(self, index)

    def _raw_set(self, int index, value):
        self._check_index(index)
        raw_put(self, index, value)

    def _raw_values(self):
        return [_value(self, i) for i in range(self._info.nfields)]

    cdef int _check_index(self, int index) except -1:
        if not 0 <= index < self._info.nfields:
            raise IndexError(f"{type(self).__name__} has no field #{index}")
        return 0

    # ---- conveniences -------------------------------------------------------

    def to_json(self):
        """The fields that are set, as plain dicts, lists and values."""
        cdef Field f
        out = {}
        for f in self._info.fields:
            v = _value(self, f.index)
            if v is None:
                continue
            out[f.wire_name] = v.to_json() if isinstance(v, Ref) else v
        return out

    def __repr__(self):
        cdef Field f
        parts = []
        for f in self._info.fields:
            v = _value(self, f.index)
            if v is not None:
                parts.append(f"{f.name}={v!r}")
        return f"{type(self).__name__}({', '.join(parts)})"

    def __reduce__(self):
        cdef Field f
        values = {f.name: _value(self, f.index) for f in self._info.fields}
        return (_rebuild, (type(self), {k: v for k, v in values.items() if v is not None}))


cdef object raw_put(SchemaCore s, int i, object value):
    # The decoder's write of field i: no change is recorded. Returns the value
    # it replaces. (The wire bytes kept for the field follow the value all the
    # same, so that an Encoder never writes stale ones.)
    cdef object prev = _value(s, i)
    _slot_put(s, s._info.offsets[i], value)
    if value is not None:
        _keep_bits(s, i, s._info.codes[i], value)
    return prev


def _rebuild(cls, values):
    # Used by pickle and copy: a new untracked instance with the same field values.
    obj = cls.__new__(cls)
    for name, value in values.items():
        setattr(obj, name, value)
    return obj


cdef int write_shared_changes(SchemaCore s, Tracker enc, Buf* b) except -1:
    # write_schema_changes for a class with view fields: their ops are left out
    # (view parts carry them), and forgotten all the same.
    cdef int j, k, i, op, code, nxt, nxt_i
    cdef int n = s.nops
    cdef SchemaInfo info = s._info
    cdef unsigned long long hidden = info.view_mask
    for j in range(n):
        i = s.rec[j].order
        op = s.rec[i].op
        if (hidden >> i) & 1:
            continue
        if b.len + 5 > b.cap:
            buf_grow(b, 5)
        b.data[b.len] = <unsigned char>(op | i)
        b.len += 1
        if op == DELETE:
            continue
        code = info.codes[i]
        nxt = 0
        if code > LAST_PRIMITIVE:
            for k in range(j + 1, n):            # the next op written (view fields are not)
                nxt_i = s.rec[k].order
                if not (hidden >> nxt_i) & 1:
                    nxt = s.rec[nxt_i].op | nxt_i
                    break
        write_value(s, enc, b, info, i, code, op, nxt == TYPE_ID)
    for j in range(n):
        s.rec[s.rec[j].order].op = OP_NONE
    s.nops = 0
    return 0


# ---- bulk assignment ----------------------------------------------------------

cdef list _as_list(object values, str what):
    # A list of plain Python values from a list, a tuple, any iterable, or a 1-D
    # buffer (numpy arrays, array.array): a buffer converts in one C call.
    cdef object view
    if type(values) is list:
        return <list>values
    if type(values) is tuple:
        return list(values)
    try:
        view = memoryview(values)
    except TypeError:
        return list(values)
    if view.ndim != 1:
        raise ValueError(f"{what}: expected one dimension, got {view.ndim}")
    return view.tolist()


cdef bint _get_buffer(object values, Py_buffer* view, str kind) except -1:
    # A 1-D buffer of C doubles ("d") or 64-bit ints ("q"/"l", kind "i"), read in
    # place (numpy arrays, array.array; strides allowed); False for anything else.
    cdef bytes fmt
    if not PyObject_CheckBuffer(values):
        return False
    PyObject_GetBuffer(values, view, PyBUF_FORMAT | PyBUF_STRIDES)
    fmt = view.format if view.format != NULL else b"B"
    if view.ndim == 1 and view.itemsize == 8 and fmt.lstrip(b"@=<") in ((b"d",) if kind == "d" else (b"q", b"l")):
        return True
    PyBuffer_Release(view)
    return False


def set_fields(objects, indices=None, **columns):
    """Assign columns of values to fields of many Schema instances in one call.

    ``set_fields(players, x=xs, y=ys)`` does ``players[j].x = xs[j]`` and
    ``players[j].y = ys[j]`` for every j; with ``indices``,
    ``players[indices[j]].x = xs[j]``. Columns (and ``indices``) are lists,
    tuples, numpy arrays, ``array.array`` or any 1-D buffer (float64 columns
    and int64 indices are read in place). Every value is checked as an
    assignment would check it, and the patches are byte for byte those of the
    same assignments made one by one, in the order ``for j: for each keyword``;
    a bad value raises, after the assignments before it in that order."""
    cdef list objs = _as_list(objects, "objects")
    cdef Py_ssize_t nobjs = len(objs)
    cdef Py_ssize_t ncols = len(columns)
    cdef Py_ssize_t n, j, k, c
    cdef Py_buffer index_buffer
    cdef bint index_in_place = False
    cdef Py_ssize_t* at = NULL          # the object of each row (with indices)
    cdef Py_buffer* buffers = NULL
    cdef bint* in_place = NULL
    cdef bint* float_field = NULL
    cdef list names = list(columns)
    cdef list lists = [None] * ncols
    cdef list fields = [None] * ncols
    cdef object obj, last_type = None, old
    cdef double d
    cdef Field f
    cdef PyObject* fp
    if ncols == 0:
        return
    if ncols > MAX_FIELDS:
        raise ValueError(f"at most {MAX_FIELDS} columns")
    buffers = <Py_buffer*>PyMem_Malloc(ncols * sizeof(Py_buffer))
    in_place = <bint*>PyMem_Malloc(ncols * sizeof(bint))
    float_field = <bint*>PyMem_Malloc(ncols * sizeof(bint))
    if buffers == NULL or in_place == NULL or float_field == NULL:
        PyMem_Free(buffers)
        PyMem_Free(in_place)
        PyMem_Free(float_field)
        raise MemoryError()
    for c in range(ncols):
        in_place[c] = False
    try:
        if indices is None:
            n = nobjs
        else:
            index_in_place = _get_buffer(indices, &index_buffer, "i")
            index_list = None if index_in_place else _as_list(indices, "indices")
            n = index_buffer.shape[0] if index_in_place else len(index_list)
            at = <Py_ssize_t*>PyMem_Malloc(max(n, 1) * sizeof(Py_ssize_t))
            if at == NULL:
                raise MemoryError()
            for j in range(n):
                if index_in_place:
                    k = (<long long*>(<char*>index_buffer.buf + j * index_buffer.strides[0]))[0]
                else:
                    k = index_list[j]
                if k < 0 or k >= nobjs:
                    raise IndexError(f"indices[{j}] = {k} is outside the {nobjs} objects")
                at[j] = k
        for c in range(ncols):
            name = names[c]
            in_place[c] = _get_buffer(columns[name], &buffers[c], "d")
            if in_place[c]:
                k = buffers[c].shape[0]
            else:
                lists[c] = _as_list(columns[name], name)
                k = len(<list>lists[c])
            if k != n:
                raise ValueError(f"column {name!r} has {k} values for {n} objects")
        for j in range(n):
            obj = objs[j] if at == NULL else objs[at[j]]
            if type(obj) is not last_type:
                if not isinstance(obj, SchemaCore):
                    raise TypeError(f"set_fields: {type(obj).__name__} is not a Schema instance")
                for c in range(ncols):
                    fp = (<SchemaCore>obj)._field_at(names[c])
                    if fp == NULL:
                        raise AttributeError(f"{type(obj).__name__} has no field {names[c]!r}")
                    f = <Field>fp
                    fields[c] = f
                    float_field[c] = f.code == FLOAT32 or f.code == FLOAT64 or f.code == NUMBER
                last_type = type(obj)
            for c in range(ncols):
                f = <Field>fields[c]
                if not in_place[c]:
                    (<SchemaCore>obj).assign(f, (<list>lists[c])[j])
                    continue
                d = (<double*>(<char*>buffers[c].buf + j * buffers[c].strides[0]))[0]
                if float_field[c]:
                    # (an unchanged value costs no Python float)
                    old = <object>slot_get(<SchemaCore>obj, f.offset)
                    if PyFloat_CheckExact(old) and PyFloat_AS_DOUBLE(old) == d:
                        continue
                (<SchemaCore>obj).assign(f, PyFloat_FromDouble(d))
    finally:
        for c in range(ncols):
            if in_place[c]:
                PyBuffer_Release(&buffers[c])
        if index_in_place:
            PyBuffer_Release(&index_buffer)
        PyMem_Free(at)
        PyMem_Free(buffers)
        PyMem_Free(in_place)
        PyMem_Free(float_field)
