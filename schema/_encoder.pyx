# cython: language_level=3, binding=False
"""The compiled core of the schema package.

It holds what every tracked structure shares: the primitive writers of the
@colyseus/schema 3.x wire format, the field types (which also validate values
at assignment), the ``Ref`` base class with its change-tracking bookkeeping and
the ``Encoder``. The Encoder is the root tracker: it hands out refIds when a
structure becomes reachable from the state, queues structures in the order they
change, and walks that queue to write a patch (``encode``) or walks the attach
order to write the full state (``encode_all``).

Schema instances live here too (``SchemaCore``, with a ``Field`` and a
``SchemaInfo`` describing each class), because their assignment path and their
blocks are the hot paths: field values sit in the instance's slots, and every
write goes through ``SchemaCore.__setattr__``, which checks the value, compares
it with the current one and records the wire op for that field index
(first-touch order, with the 3.x merge rule). The collections are in
``_collections``.
"""
from cpython.bytes cimport PyBytes_FromStringAndSize
from cpython.float cimport PyFloat_AS_DOUBLE
from cpython.list cimport PyList_GET_ITEM, PyList_GET_SIZE
from cpython.long cimport PyLong_AsLongLongAndOverflow, PyLong_AsLongLong, PyLong_AsUnsignedLongLong
from cpython.mem cimport PyMem_Free, PyMem_Malloc, PyMem_Realloc
from cpython.object cimport PyObject, PyTypeObject, Py_TYPE
from cpython.ref cimport Py_INCREF, Py_XDECREF
from libc.math cimport fabs, isinf, isnan
from libc.stdint cimport int64_t, uint32_t, uint64_t
from libc.string cimport memcpy, memset

import operator
from collections.abc import Mapping

from .errors import EncodeError

cdef extern from "Python.h":
    const char* PyUnicode_AsUTF8AndSize(object s, Py_ssize_t* size) except NULL
    bint PyFloat_CheckExact(object o)
    bint PyLong_CheckExact(object o)
    double PyFloat_AsDouble(object o) except? -1.0



# --------------------------------------------------------------------------
# Output buffer and primitive writers
# --------------------------------------------------------------------------

cdef int buf_grow(Buf* b, Py_ssize_t extra) except -1:
    cdef Py_ssize_t cap = b.cap * 2 if b.cap else 1024
    cdef unsigned char* data
    while cap < b.len + extra:
        cap *= 2
    data = <unsigned char*>PyMem_Realloc(b.data, cap)
    if data == NULL:
        raise MemoryError()
    b.data = data
    b.cap = cap
    return 0


cdef int write_int32_number(Buf* b, int64_t v) except -1:
    # The integer forms of the `number` type (only used for int32 values).
    if v >= 0:
        if v < 0x80:
            buf_byte(b, <unsigned char>v)
        elif v < 0x100:
            buf_byte(b, 0xcc)
            buf_byte(b, <unsigned char>v)
        elif v < 0x10000:
            buf_byte(b, 0xcd)
            put_u16(b, <uint32_t>v)
        else:
            buf_byte(b, 0xce)
            put_u32(b, <uint32_t>v)
    else:
        if v >= -0x20:
            buf_byte(b, <unsigned char>(0xe0 | (v + 0x20)))
        elif v >= -0x80:
            buf_byte(b, 0xd0)
            buf_byte(b, <unsigned char>(v & 0xff))
        elif v >= -0x8000:
            buf_byte(b, 0xd1)
            put_u16(b, <uint32_t>(v & 0xffff))
        else:
            buf_byte(b, 0xd2)
            put_u32(b, <uint32_t>v)
    return 0


cdef int write_double_number(Buf* b, double d) except -1:
    cdef double f
    if isnan(d):
        return buf_byte(b, 0)
    if isinf(d):
        d = 9007199254740991.0 if d > 0 else -9007199254740991.0
    if -2147483648.0 <= d <= 2147483647.0 and d == <double>(<int64_t>d):
        return write_int32_number(b, <int64_t>d)
    if fabs(d) <= 3.4028235e+38:
        f = sch_fround(d)
        if fabs(fabs(f) - fabs(d)) < 1e-4:
            buf_byte(b, 0xca)
            return put_u32(b, sch_f32_bits(d))
    buf_byte(b, 0xcb)
    return put_u64(b, sch_f64_bits(d))


cdef int write_large_uint(Buf* b, Py_ssize_t n) except -1:
    # write_uint (in the .pxd) past its one-byte case
    if n <= 2147483647:
        return write_int32_number(b, n)
    return write_double_number(b, <double>n)


cdef int write_number(Buf* b, object value) except -1:
    cdef int overflow = 0
    cdef long long v
    if PyFloat_CheckExact(value):
        return write_double_number(b, PyFloat_AS_DOUBLE(value))
    if PyLong_CheckExact(value):
        v = PyLong_AsLongLongAndOverflow(value, &overflow)
        if overflow == 0 and -2147483648 <= v <= 2147483647:
            return write_int32_number(b, v)
    return write_double_number(b, PyFloat_AsDouble(value))


cdef int write_string(Buf* b, object value) except -1:
    cdef Py_ssize_t n
    cdef const char* s = PyUnicode_AsUTF8AndSize(value, &n)
    if n < 0x20:
        buf_byte(b, <unsigned char>(0xa0 | n))
    elif n < 0x100:
        # 3.x writes n % 255 here, which breaks n == 255; the decoder reads the byte as is.
        buf_byte(b, 0xd9)
        buf_byte(b, <unsigned char>n)
    elif n < 0x10000:
        buf_byte(b, 0xda)
        put_u16(b, <uint32_t>n)
    else:
        buf_byte(b, 0xdb)
        put_u32(b, <uint32_t>n)
    if b.len + n > b.cap:
        buf_grow(b, n)
    memcpy(b.data + b.len, s, n)
    b.len += n
    return 0


cdef int write_primitive(Buf* b, int code, object value) except -1:
    if code == T_FLOAT32:
        if PyFloat_CheckExact(value):
            return put_u32(b, sch_f32_bits(PyFloat_AS_DOUBLE(value)))
        return put_u32(b, sch_f32_bits(PyFloat_AsDouble(value)))
    if code == T_NUMBER:
        return write_number(b, value)
    if code == T_STRING:
        return write_string(b, value)
    if code == T_FLOAT64:
        return put_u64(b, sch_f64_bits(PyFloat_AsDouble(value)))
    if code == T_BOOLEAN:
        return buf_byte(b, 1 if value else 0)
    if code == T_INT8 or code == T_UINT8:
        return buf_byte(b, <unsigned char>PyLong_AsLongLong(value))
    if code == T_INT16 or code == T_UINT16:
        return put_u16(b, <uint32_t>PyLong_AsLongLong(value))
    if code == T_INT32 or code == T_UINT32:
        return put_u32(b, <uint32_t>PyLong_AsLongLong(value))
    if code == T_INT64 or code == T_BIGINT64:
        return put_u64(b, <uint64_t>PyLong_AsLongLong(value))
    if code == T_UINT64 or code == T_BIGUINT64:
        return put_u64(b, PyLong_AsUnsignedLongLong(value))
    raise EncodeError(f"unknown type code {code}")


def _encode_value(str type_name, object value) -> bytes:
    """The wire bytes of one primitive value (used by the protocol codec and tests)."""
    cdef Buf b
    cdef FieldType ft = primitive(type_name)
    value = ft.check(value, type_name)
    b.data = NULL
    b.len = 0
    b.cap = 0
    try:
        write_primitive(&b, ft.code, value)
        return PyBytes_FromStringAndSize(<char*>b.data, b.len)
    finally:
        PyMem_Free(b.data)


# --------------------------------------------------------------------------
# Field types
# --------------------------------------------------------------------------

PRIMITIVE_NAMES = (
    "string", "number", "boolean", "int8", "uint8", "int16", "uint16", "int32",
    "uint32", "int64", "uint64", "float32", "float64", "bigint64", "biguint64",
)
COLLECTION_NAMES = {T_MAP: "map", T_ARRAY: "array", T_SET: "set", T_COLLECTION: "collection"}
_COLLECTION_CLASS_NAMES = {T_MAP: "MapSchema", T_ARRAY: "ArraySchema", T_SET: "SetSchema",
                           T_COLLECTION: "CollectionSchema"}

# (low, high) for the integer types; None for the others.
_INT_RANGES = {
    T_INT8: (-0x80, 0x7f), T_UINT8: (0, 0xff),
    T_INT16: (-0x8000, 0x7fff), T_UINT16: (0, 0xffff),
    T_INT32: (-0x80000000, 0x7fffffff), T_UINT32: (0, 0xffffffff),
    T_INT64: (-(1 << 63), (1 << 63) - 1), T_UINT64: (0, (1 << 64) - 1),
    T_BIGINT64: (-(1 << 63), (1 << 63) - 1), T_BIGUINT64: (0, (1 << 64) - 1),
}

# C copies of the ranges up to 32 bits, for the fast path of FieldType.check
cdef long long _INT_LOW[9]
cdef long long _INT_HIGH[9]
for _code in range(T_INT8, T_UINT32 + 1):
    _INT_LOW[_code], _INT_HIGH[_code] = _INT_RANGES[_code]

# The collection classes register themselves here (they live in _collections,
# which imports this module), so that plain dicts and lists can be converted.
cdef dict _collection_classes = {}


def _register_collection_class(int code, cls):
    _collection_classes[code] = cls


cdef object _as_int(object value, object where):
    if isinstance(value, bool):
        raise TypeError(f"{where}: expected an integer, got bool")
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        raise TypeError(f"{where}: expected an integer, got float {value!r}")
    try:
        return operator.index(value)
    except TypeError:
        raise TypeError(f"{where}: expected an integer, got {type(value).__name__}") from None


cdef object _as_float(object value, object where):
    if isinstance(value, bool) or isinstance(value, (str, bytes, bytearray)):
        raise TypeError(f"{where}: expected a number, got {type(value).__name__}")
    if isinstance(value, int):
        try:
            float(value)
        except OverflowError:
            raise ValueError(f"{where}: {value} is too large to be sent as a number") from None
        return int(value)
    if isinstance(value, float):
        return float(value)
    try:
        return float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{where}: expected a number, got {type(value).__name__}") from None


cdef class FieldType:
    """The declared type of a field or of the items of a collection.

    Instances are interned: equal types are the same object.
    """

    def __init__(self, *args):
        raise TypeError("FieldType objects are created by the schema package")

    cdef object check(self, object value, object where):
        # Return the value to store, or raise TypeError / ValueError.
        cdef int code = self.code
        cdef Ref r
        cdef int overflow = 0
        cdef long long iv
        if code == T_FLOAT32 or code == T_FLOAT64 or code == T_NUMBER:
            if type(value) is float:
                return value
            return _as_float(value, where)
        if code == T_STRING:
            if isinstance(value, str):
                try:
                    PyUnicode_AsUTF8AndSize(value, NULL)
                except UnicodeEncodeError:
                    raise ValueError(f"{where}: the string cannot be encoded as UTF-8 (lone surrogate)") from None
                return value
            raise TypeError(f"{where}: expected str, got {type(value).__name__}")
        if code == T_BOOLEAN:
            if isinstance(value, bool):
                return value
            raise TypeError(f"{where}: expected bool, got {type(value).__name__}")
        if code <= T_LAST_PRIMITIVE:
            if PyLong_CheckExact(value) and code <= T_UINT32:
                iv = PyLong_AsLongLongAndOverflow(value, &overflow)
                if overflow == 0 and _INT_LOW[code] <= iv <= _INT_HIGH[code]:
                    return value
            value = _as_int(value, where)
            low, high = _INT_RANGES[code]
            if value < low or value > high:
                raise ValueError(f"{where}: {value} is out of range for {PRIMITIVE_NAMES[code]} ({low}..{high})")
            return value
        if code == T_REF:
            if isinstance(value, self.cls):
                return value
            raise TypeError(f"{where}: expected {self.cls.__name__}, got {type(value).__name__}")
        # collections
        if isinstance(value, Ref) and (<Ref>value).kind == code:
            r = <Ref>value
            if r.child is None:
                value._adopt_type(self.child)
            elif r.child is not self.child:
                raise TypeError(f"{where}: expected {self!r}, got {_type_label(r.kind, r.child)}")
            return value
        cls = _collection_classes[code]
        if code == T_MAP and isinstance(value, Mapping):
            return cls._typed(self.child, value)
        if (code == T_ARRAY or code == T_COLLECTION) and isinstance(value, (list, tuple)):
            return cls._typed(self.child, value)
        if code == T_SET and isinstance(value, (set, frozenset, list, tuple)):
            return cls._typed(self.child, value)
        raise TypeError(f"{where}: expected {self!r}, got {type(value).__name__}")

    def validate(self, value, where="value"):
        """Check ``value`` against this type; return what would be stored."""
        return self.check(value, where)

    @property
    def is_primitive(self) -> bool:
        return self.code <= T_LAST_PRIMITIVE

    @property
    def is_ref(self) -> bool:
        return self.code == T_REF

    @property
    def is_collection(self) -> bool:
        return self.code >= T_MAP

    @property
    def name(self) -> str:
        """The primitive name, ``"ref"``, or the collection kind (``"map"``...)."""
        if self.code <= T_LAST_PRIMITIVE:
            return PRIMITIVE_NAMES[self.code]
        if self.code == T_REF:
            return "ref"
        return COLLECTION_NAMES[self.code]

    def __reduce__(self):
        # types are interned: unpickling finds the same object again
        if self.code <= T_LAST_PRIMITIVE:
            return (primitive, (PRIMITIVE_NAMES[self.code],))
        if self.code == T_REF:
            return (ref_type, (self.cls,))
        return (collection_type, (COLLECTION_NAMES[self.code], self.child))

    def __copy__(self):
        return self

    def __deepcopy__(self, memo):
        return self

    def __repr__(self):
        return _type_label(self.code, self.child) if self.code >= T_MAP else (
            self.cls.__name__ if self.code == T_REF else PRIMITIVE_NAMES[self.code])


cdef str _type_label(int code, FieldType child):
    return f"{_COLLECTION_CLASS_NAMES[code]}[{child!r}]" if child is not None else _COLLECTION_CLASS_NAMES[code]


cdef FieldType _new_type(int code, object cls, FieldType child):
    cdef FieldType t = FieldType.__new__(FieldType)
    t.code = code
    t.cls = cls
    t.child = child
    t._wrapped = {}
    return t


cdef tuple _PRIMITIVES = tuple(_new_type(i, None, None) for i in range(T_LAST_PRIMITIVE + 1))
cdef dict _PRIMITIVES_BY_NAME = {PRIMITIVE_NAMES[i]: _PRIMITIVES[i] for i in range(T_LAST_PRIMITIVE + 1)}


cpdef FieldType primitive(str name):
    """The field type of a primitive wire type name (``"float32"``...)."""
    try:
        return _PRIMITIVES_BY_NAME[name]
    except KeyError:
        raise ValueError(f"unknown primitive type {name!r}") from None


cpdef FieldType ref_type(object cls):
    """The field type of a Schema class (cached on the class)."""
    t = cls.__dict__.get("__schema_ref_type__")
    if t is None:
        t = _new_type(T_REF, cls, None)
        type.__setattr__(cls, "__schema_ref_type__", t)
    return t


cpdef FieldType collection_type(str kind, FieldType child):
    """The field type of ``map``/``array``/``set``/``collection`` of ``child``."""
    cdef int code
    for code, name in COLLECTION_NAMES.items():
        if name == kind:
            break
    else:
        raise ValueError(f"unknown collection kind {kind!r}")
    if child.code >= T_MAP:
        from .errors import SchemaError
        raise SchemaError(
            f"{_COLLECTION_CLASS_NAMES[code]}[{child!r}]: a collection cannot hold collections "
            "directly (the 3.x decoder cannot read it); wrap the inner one in a Schema")
    t = child._wrapped.get(code)
    if t is None:
        t = _new_type(code, None, child)
        child._wrapped[code] = t
    return t


# --------------------------------------------------------------------------
# Tracked structures
# --------------------------------------------------------------------------

cdef class Ref:
    """Base of Schema instances and collections: what the Encoder tracks."""

    def __cinit__(self, *args, **kwargs):
        self.queue_pos = -1

    cdef bint has_changes(self):
        return False

    cdef bint has_content(self):
        return False

    cdef int write_changes(self, Encoder enc, Buf* b) except -1:
        return 0

    cdef int write_full(self, Encoder enc, Buf* b) except -1:
        return 0

    cdef void discard_changes(self):
        pass

    cdef list child_refs(self):
        return []

    cdef void resend_all(self):
        pass

    @property
    def _refid(self):
        """The refId given by the Encoder this structure belongs to (None if never attached)."""
        return self.refid if self.owner else None

    @property
    def _encoder(self):
        """The Encoder this structure is currently attached to, or None."""
        return self.root


cdef int check_linkable(Ref child, Ref parent) except -1:
    # Called before storing `child` in a slot of `parent`.
    if child.kind == T_REF and parent.root is not None:
        parent.root.type_id(type(child))
    if child.kind != T_REF and child.nlinks > 0:
        raise ValueError(
            f"this {_type_label(child.kind, child.child)} is already held by another field or "
            "collection; a collection can have only one parent (remove it there first, or assign a copy)")
    if child.root is not None and parent.root is not None and child.root is not parent.root:
        raise EncodeError("this instance is tracked by another Encoder")
    return 0


# --------------------------------------------------------------------------
# Encoder
# --------------------------------------------------------------------------

cdef Py_ssize_t _encoder_serial = 0


cdef class Encoder:
    """Turns the changes made to a state into @colyseus/schema 3.x bytes.

    ``encode()`` returns the patch of everything changed since the previous call
    (``b""`` when nothing changed) and forgets those changes; ``encode_all()``
    returns the full state for a joining client and keeps the pending changes.
    """

    def __cinit__(self, *args, **kwargs):
        self.buf.data = NULL
        self.buf.len = 0
        self.buf.cap = 0

    def __dealloc__(self):
        PyMem_Free(self.buf.data)

    def __init__(self, state):
        global _encoder_serial
        cdef Ref root
        if not isinstance(state, Ref) or (<Ref>state).kind != T_REF:
            raise TypeError(f"Encoder() needs a Schema instance, got {type(state).__name__}")
        root = <Ref>state
        if root.root is not None:
            raise EncodeError("this state is already tracked by an Encoder (close() it first)")
        from ._context import type_ids
        _encoder_serial += 1
        self.serial = _encoder_serial
        self.state = state
        self.pending = []
        self.full = {}
        self.deferred = []
        self.preclear = []
        self.type_ids = type_ids(type(state))
        # The root always gets refId 0; the decoder starts with it.
        root.owner = self.serial
        root.refid = 0
        root.was_attached = False
        self.next_refid = 1
        self.attach(root)
        root.is_new = False

    cdef void enqueue(self, Ref ref):
        # The pending list is reused between patches: slots past npending are None.
        ref.queue_pos = self.npending
        if self.npending < PyList_GET_SIZE(self.pending):
            _store(self.pending, self.npending, ref)
        else:
            self.pending.append(ref)
        self.npending += 1

    cdef int attach(self, Ref ref) except -1:
        cdef Ref child
        if ref.root is self:
            ref.refcount += 1
            return 0
        if ref.root is not None:
            raise EncodeError(f"{type(ref).__name__} instance is tracked by another Encoder")
        if ref.owner != self.serial:
            ref.owner = self.serial
            ref.refid = self.next_refid
            self.next_refid += 1
            ref.was_attached = False
        ref.root = self
        ref.refcount = 1
        ref.is_new = True
        if ref.was_attached:
            # It was fully detached: the decoder may have freed it, so send it whole.
            ref.resend_all()
        ref.was_attached = True
        self.full[ref.refid] = ref
        if ref.queue_pos < 0:
            self.enqueue(ref)
        for child in ref.child_refs():
            self.attach(child)
        return 0

    cdef int detach(self, Ref ref) except -1:
        cdef Ref child
        if ref.root is not self:
            return 0
        ref.refcount -= 1
        if ref.refcount > 0:
            return 0
        ref.root = None
        ref.queue_pos = -1
        del self.full[ref.refid]
        for child in ref.child_refs():
            self.detach(child)
        return 0

    cdef Py_ssize_t type_id(self, object cls) except -1:
        tid = self.type_ids.get(cls)
        if tid is None:
            # A class defined after the Encoder was created is not in the handshake
            # clients got; it can only be sent as an ancestor with the same fields.
            for base in cls.__mro__[1:]:
                tid = self.type_ids.get(base)
                if tid is not None:
                    break
            if tid is None or base.__schema_info__.nfields != cls.__schema_info__.nfields:
                raise EncodeError(
                    f"{cls.__name__} is not among the types this Encoder announced "
                    "(was it defined after the Encoder was created?)")
            self.type_ids[cls] = tid
        return tid

    cdef int write_item(self, Buf* b, FieldType ftype, object value, int op, bint next_is_type_id) except -1:
        # Write one slot value: a primitive, or the refId of a structure (plus its
        # type id when the instance's class differs from the declared one).
        cdef int code = ftype.code
        cdef Ref r
        cdef Py_ssize_t tid
        if code <= T_LAST_PRIMITIVE:
            return write_primitive(b, code, value)
        r = <Ref>value
        write_uint(b, r.refid)
        r.intro = self.epoch
        if code == T_REF and (op & OP_ADD):
            cls = type(value)
            if cls is not ftype.cls:
                tid = self.type_id(cls)
                if tid != self.type_id(ftype.cls) or next_is_type_id:
                    buf_byte(b, TYPE_ID_BYTE)
                    write_uint(b, tid)
            elif next_is_type_id:
                # The next op byte is 0xd5 (DELETE_AND_ADD of field 21): the decoder
                # would read it as a TYPE_ID, so write an explicit one first.
                buf_byte(b, TYPE_ID_BYTE)
                write_uint(b, self.type_id(cls))
        return 0

    cdef int _write_block(self, Ref ref, bint full) except -1:
        cdef Buf* b = &self.buf
        _switch_to(self, ref)
        if full:
            ref.write_full(self, b)
        else:
            ref.write_changes(self, b)
        if self.deferred:
            self._flush_deferred(full)
        return 0

    cdef int _flush_deferred(self, bint full) except -1:
        # Blocks of structures whose refId the decoder had not seen yet were held
        # back; write those that an op of this message has introduced since.
        cdef Ref ref
        cdef Py_ssize_t i
        cdef bint progress = True
        while progress and self.deferred:
            progress = False
            for i in range(len(self.deferred)):
                ref = self.deferred[i]
                if ref.intro == self.epoch:
                    del self.deferred[i]
                    self._write_block(ref, full)
                    if not full:
                        ref.discard_changes()
                        ref.is_new = False
                        ref.queue_pos = -1
                    progress = True
                    break
        return 0

    def encode(self):
        """The patch of all changes since the previous ``encode()``; ``b""`` if none.

        Those changes are then forgotten.
        """
        cdef Ref ref
        cdef list pending = self.pending
        cdef Py_ssize_t i, n = self.npending
        if n == 0 and not self.preclear:
            return b""
        self.buf.len = 0
        self.epoch += 1
        (<Ref>self.state).intro = self.epoch
        if self.preclear:
            self._write_preclear()
        # One pass: write each structure's block, then forget its changes.
        for i in range(n):
            ref = <Ref>PyList_GET_ITEM(pending, i)
            if ref.queue_pos != i:
                continue                      # stale entry (detached, or queued again later)
            if ref.kind == T_REF:
                # Schema blocks are most of the traffic: written inline
                if (<SchemaCore>ref).norder:
                    if ref.is_new and ref.intro != self.epoch:
                        self.deferred.append(ref)
                        continue
                    _switch_to(self, ref)
                    _schema_patch(<SchemaCore>ref, self, &self.buf)
                    if self.deferred:
                        self._flush_deferred(False)
            elif ref.has_changes():
                if ref.is_new and ref.intro != self.epoch:
                    # the decoder has not seen its refId yet: wait for the op that introduces it
                    self.deferred.append(ref)
                    continue
                self._write_block(ref, False)
                ref.discard_changes()
            else:
                ref.discard_changes()
            ref.is_new = False
            ref.queue_pos = -1
            _store(pending, i, None)
        if self.deferred:
            # never introduced (no longer reachable): not written, but forgotten
            for ref in self.deferred:
                ref.discard_changes()
                ref.is_new = False
                ref.queue_pos = -1
            self.deferred.clear()
        self.npending = 0
        return PyBytes_FromStringAndSize(<char*>self.buf.data, self.buf.len)

    cdef int _write_preclear(self) except -1:
        for rid, items, changed in self.preclear:
            # only needed when items of the replaced collection are still in the state
            if changed or any((<Ref>item).root is self for item in items):
                buf_byte(&self.buf, SWITCH_TO_STRUCTURE)
                write_uint(&self.buf, rid)
                buf_byte(&self.buf, OP_CLEAR)
        self.preclear = []
        return 0

    def encode_all(self) -> bytes:
        """The full state, for a client that joins now. Pending changes are kept."""
        cdef Ref ref
        self.buf.len = 0
        self.epoch += 1
        (<Ref>self.state).intro = self.epoch
        for ref in self.full.values():
            if not ref.has_content():
                continue
            if ref is not self.state and ref.intro != self.epoch:
                self.deferred.append(ref)
                continue
            self._write_block(ref, True)
        self.deferred.clear()
        return PyBytes_FromStringAndSize(<char*>self.buf.data, self.buf.len)

    cdef void _discard(self):
        cdef Ref ref
        cdef Py_ssize_t i, n = self.npending
        for i in range(n):
            ref = <Ref>PyList_GET_ITEM(self.pending, i)
            if ref.queue_pos == i:
                ref.discard_changes()
                ref.is_new = False
                ref.queue_pos = -1
            _store(self.pending, i, None)
        self.npending = 0
        self.preclear = []

    def discard(self) -> None:
        """Forget the pending changes without encoding them."""
        self._discard()

    @property
    def has_changes(self) -> bool:
        """True when ``encode()`` would return bytes."""
        cdef Ref ref
        cdef Py_ssize_t i
        for i in range(self.npending):
            ref = <Ref>PyList_GET_ITEM(self.pending, i)
            if ref.queue_pos == i and ref.has_changes():
                return True
        return False

    def close(self) -> None:
        """Stop tracking the state, so that another Encoder can take it."""
        cdef Ref ref
        for ref in list(self.full.values()):
            ref.root = None
            ref.refcount = 0
            ref.queue_pos = -1
            ref.owner = 0
        self.full = {}
        self.pending = []
        self.npending = 0


# ==========================================================================
# Schema instances
# ==========================================================================

MAX_FIELDS = 63
cdef object _NOT_GIVEN = object()


cdef extern from "Python.h":
    # borrowed-reference forms, for the encode loop
    PyObject* _list_item "PyList_GET_ITEM"(object l, Py_ssize_t i)
    void _list_set "PyList_SET_ITEM"(object l, Py_ssize_t i, PyObject* o)


cdef inline void _store(list l, Py_ssize_t i, object value) noexcept:
    # l[i] = value without the generic item-assignment machinery
    cdef PyObject* old = _list_item(l, i)
    Py_INCREF(value)
    _list_set(l, i, <PyObject*>value)
    Py_XDECREF(old)


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

from types import MemberDescriptorType as _MemberDescriptor


cdef inline PyObject* _slot_get(SchemaCore s, Py_ssize_t offset) noexcept:
    # borrowed reference to the value in a slot; None for an empty slot
    cdef PyObject* v = (<PyObject**>((<char*><PyObject*>s) + offset))[0]
    return v if v != NULL else <PyObject*>None


cdef inline object _value(SchemaCore s, int i):
    return <object>_slot_get(s, s._info.offsets[i])


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


cdef int _collection_leaves(SchemaCore s, Ref old) except -1:
    # A collection the decoder knows leaves a field (deleted, or replaced, maybe
    # later in the same patch). When the field ends up holding another collection,
    # the 3.x decoder releases the old one's items twice (at the op, and when it
    # frees the collection); items that stay in the state would be lost. The
    # Encoder then empties the old collection first, in its own block.
    if s.root is None or old.is_new:
        return 0
    items = old.child_refs()
    if items or old.has_changes():
        s.root.preclear.append((old.refid, items, old.has_changes()))
    return 0


cdef inline void _record(SchemaCore s, int i, int op):
    # Record an op for field i (the 3.x merge rule when it was touched already).
    cdef unsigned char prev = s.rec[i].op
    if prev == OP_NONE:
        s.rec[i].op = op
        s.rec[s.norder].order = i
        s.norder += 1
    elif prev == OP_DELETE:
        s.rec[i].op = OP_DELETE_AND_ADD
    elif prev == OP_REPLACE:
        s.rec[i].op = op
    if not (s.fullmask >> i) & 1:
        s.fullmask |= (1ULL << i)
        s.rec[s.nfull].full = i
        s.nfull += 1
    mark_changed(s)


cdef inline bint _has_bits(int code) noexcept:
    # fields whose wire bytes SchemaCore keeps at assignment (FieldRec.bits)
    return code == T_FLOAT32 or T_INT8 <= code <= T_UINT32


cdef inline int _keep_bits(SchemaCore s, int i, int code, object value) except -1:
    # Keep the wire bytes of a _has_bits field's new value (any other: nothing).
    if code == T_FLOAT32:
        s.rec[i].bits = sch_f32_bits(PyFloat_AS_DOUBLE(value) if PyFloat_CheckExact(value)
                                     else PyFloat_AsDouble(value))
    elif T_INT8 <= code <= T_UINT32:
        s.rec[i].bits = <uint32_t>PyLong_AsLongLong(value)
    return 0


cdef inline void _put_bits(Buf* b, int code, uint32_t u) noexcept:
    # the little-endian bytes of a _has_bits field; the caller made room for 4
    cdef unsigned char* d = b.data + b.len
    d[0] = u & 0xff
    if code == T_INT8 or code == T_UINT8:
        b.len += 1
        return
    d[1] = (u >> 8) & 0xff
    if code == T_INT16 or code == T_UINT16:
        b.len += 2
        return
    d[2] = (u >> 16) & 0xff
    d[3] = (u >> 24) & 0xff
    b.len += 4


cdef inline int _switch_to(Encoder enc, Ref ref) except -1:
    # SWITCH_TO_STRUCTURE, except for the root when it is the first block
    if enc.buf.len != 0 or ref is not enc.state:
        buf_byte(&enc.buf, SWITCH_TO_STRUCTURE)
        write_uint(&enc.buf, ref.refid)
    return 0


cdef inline int _schema_patch(SchemaCore s, Encoder enc, Buf* b) except -1:
    # The ops of one Schema instance (the block body), which are then forgotten.
    cdef int j, i, op, code, nxt
    cdef int n = s.norder
    cdef SchemaInfo info = s._info
    for j in range(n):
        i = s.rec[j].order
        op = s.rec[i].op
        s.rec[i].op = OP_NONE
        if b.len + 5 > b.cap:
            buf_grow(b, 5)
        b.data[b.len] = <unsigned char>(op | i)
        b.len += 1
        if op == OP_DELETE:
            continue
        code = info.codes[i]
        nxt = 0
        if code > T_LAST_PRIMITIVE and j + 1 < n:
            nxt = s.rec[j + 1].order
            nxt = s.rec[nxt].op | nxt
        _write_value(s, enc, b, info, i, code, op, nxt == 0xd5)
    s.norder = 0
    return 0


cdef inline int _write_value(SchemaCore s, Encoder enc, Buf* b, SchemaInfo info, int i, int code, int op,
                             bint next_is_type_id) except -1:
    # The value of field i (of type `code`) after its op byte, in a patch or a
    # full state; the caller made room for 4 bytes.
    if _has_bits(code):
        _put_bits(b, code, s.rec[i].bits)
    elif code <= T_LAST_PRIMITIVE:
        write_primitive(b, code, <object>_slot_get(s, info.offsets[i]))
    else:
        enc.write_item(b, <FieldType>info.types[i], <object>_slot_get(s, info.offsets[i]), op, next_is_type_id)
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
    """A declared Schema field (its value lives in a slot of the instance)."""

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
        self.code = t.code

    cdef object _initial(self):
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

    def __cinit__(self, *args, **kwargs):
        cdef SchemaInfo info
        try:
            info = type(self).__schema_info__
        except AttributeError:
            raise TypeError(f"{type(self).__name__} is not a declared Schema class") from None
        info.ensure_ready()
        self._info = info
        self.kind = T_REF
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
        if f == NULL:
            PyObject_GenericSetAttr(self, name, value)
        else:
            self.assign(<Field>f, value)

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
        cdef object old = <object>_slot_get(self, f.offset)
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
            _slot_put(self, f.offset, value)
            _keep_bits(self, i, code, value)   # the patch walk never touches the float object
            _record(self, i, OP_ADD)
            return 0
        value = f.type.check(value, f.where)
        if code <= T_LAST_PRIMITIVE:
            if old is not None and old == value:
                return 0
            _slot_put(self, f.offset, value)
            _keep_bits(self, i, code, value)
            _record(self, i, OP_ADD)
            return 0
        if old is value:
            return 0
        check_linkable(<Ref>value, self)
        _slot_put(self, f.offset, value)
        _record(self, i, OP_ADD if old is None else OP_DELETE_AND_ADD)
        if old is not None:
            if code > T_REF:
                _collection_leaves(self, <Ref>old)
            unlink(self, <Ref>old)
        link(self, <Ref>value)
        return 0

    cdef int remove(self, int i) except -1:
        cdef object old = _value(self, i)
        cdef int j
        if old is None:
            return 0
        _slot_put(self, self._info.offsets[i], None)
        if self.rec[i].op == OP_NONE:
            self.rec[self.norder].order = i
            self.norder += 1
        self.rec[i].op = OP_DELETE
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
        if self._info.codes[i] > T_REF:
            _collection_leaves(self, <Ref>old)
        if self._info.codes[i] >= T_REF:
            unlink(self, <Ref>old)
        return 0

    # ---- what the Encoder asks --------------------------------------------

    cdef bint has_changes(self):
        return self.norder > 0

    cdef bint has_content(self):
        return self.nfull > 0

    cdef int write_changes(self, Encoder enc, Buf* b) except -1:
        # (forgets the ops as it writes them; the caller discards next anyway)
        return _schema_patch(self, enc, b)

    cdef int write_full(self, Encoder enc, Buf* b) except -1:
        cdef int j, i
        cdef SchemaInfo info = self._info
        for j in range(self.nfull):
            i = self.rec[j].full
            if b.len + 5 > b.cap:
                buf_grow(b, 5)
            b.data[b.len] = <unsigned char>(OP_ADD | i)
            b.len += 1
            _write_value(self, enc, b, info, i, info.codes[i], OP_ADD, False)
        return 0

    cdef void discard_changes(self):
        cdef int j
        for j in range(self.norder):
            self.rec[self.rec[j].order].op = OP_NONE
        self.norder = 0

    cdef list child_refs(self):
        cdef list out = []
        for i in self._info.ref_indexes:
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
                self.rec[i].op = OP_ADD
                self.rec[self.norder].order = i
                self.norder += 1

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
            out[f.name] = v.to_json() if isinstance(v, Ref) else v
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
