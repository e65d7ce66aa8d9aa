# cython: language_level=3
"""The compiled core of the schema package.

It holds what every tracked structure shares: the primitive writers of the
@colyseus/schema 3.x wire format, the field types (which also validate values
at assignment), the ``Ref`` base class with its change-tracking bookkeeping and
the ``Encoder``. The Encoder is the root tracker: it hands out refIds when a
structure becomes reachable from the state, queues structures in the order they
change, and walks that queue to write a patch (``encode``) or walks the attach
order to write the full state (``encode_all``). Schema instances and the
collections implement the per-structure part in ``_state`` and ``_collections``.
"""
from cpython.bytes cimport PyBytes_FromStringAndSize
from cpython.float cimport PyFloat_AS_DOUBLE
from cpython.list cimport PyList_GET_ITEM, PyList_GET_SIZE
from cpython.long cimport PyLong_AsLongLongAndOverflow, PyLong_AsLongLong, PyLong_AsUnsignedLongLong
from cpython.mem cimport PyMem_Free, PyMem_Malloc, PyMem_Realloc
from cpython.object cimport PyObject
from libc.math cimport fabs, isinf, isnan
from libc.stdint cimport int64_t, uint32_t, uint64_t
from libc.string cimport memcpy

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
            put_u32(b, <uint32_t>(v & 0xffffffff))
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


cdef int write_uint(Buf* b, Py_ssize_t n) except -1:
    if n < 0x80:
        return buf_byte(b, <unsigned char>n)
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
        return buf_byte(b, <unsigned char>(PyLong_AsLongLong(value) & 0xff))
    if code == T_INT16 or code == T_UINT16:
        return put_u16(b, <uint32_t>(PyLong_AsLongLong(value) & 0xffff))
    if code == T_INT32 or code == T_UINT32:
        return put_u32(b, <uint32_t>(PyLong_AsLongLong(value) & 0xffffffff))
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
        ref.queue_pos = PyList_GET_SIZE(self.pending)
        self.pending.append(ref)

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
        if b.len != 0 or ref is not self.state:
            buf_byte(b, SWITCH_TO_STRUCTURE)
            write_uint(b, ref.refid)
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
                    progress = True
                    break
        return 0

    cdef bytes _finish(self, bint full):
        # Anything still deferred was never introduced (unreachable); the decoder
        # would drop it, so it is not written.
        self.deferred.clear()
        return PyBytes_FromStringAndSize(<char*>self.buf.data, self.buf.len)

    def encode(self) -> bytes:
        """The patch of all changes since the previous ``encode()``; ``b""`` if none."""
        cdef bytes out = self._encode_patch()
        self._discard()
        return out

    cdef bytes _encode_patch(self):
        cdef Ref ref
        cdef Py_ssize_t i, n = PyList_GET_SIZE(self.pending)
        self.buf.len = 0
        self.epoch += 1
        (<Ref>self.state).intro = self.epoch
        for rid, items, changed in self.preclear:
            # only needed when items of the replaced collection are still in the state
            if changed or any((<Ref>item).root is self for item in items):
                buf_byte(&self.buf, SWITCH_TO_STRUCTURE)
                write_uint(&self.buf, rid)
                buf_byte(&self.buf, OP_CLEAR)
        for i in range(n):
            ref = <Ref>PyList_GET_ITEM(self.pending, i)
            if ref.queue_pos != i or not ref.has_changes():
                continue
            if ref.is_new and ref.intro != self.epoch:
                self.deferred.append(ref)
                continue
            self._write_block(ref, False)
        return self._finish(False)

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
        return self._finish(True)

    cdef void _discard(self):
        cdef Ref ref
        cdef Py_ssize_t i, n = PyList_GET_SIZE(self.pending)
        for i in range(n):
            ref = <Ref>PyList_GET_ITEM(self.pending, i)
            if ref.queue_pos == i:
                ref.discard_changes()
                ref.is_new = False
                ref.queue_pos = -1
        self.pending = []
        self.preclear = []

    def discard(self) -> None:
        """Forget the pending changes without encoding them."""
        self._discard()

    @property
    def has_changes(self) -> bool:
        """True when ``encode()`` would return bytes."""
        cdef Ref ref
        cdef Py_ssize_t i, n = PyList_GET_SIZE(self.pending)
        for i in range(n):
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
