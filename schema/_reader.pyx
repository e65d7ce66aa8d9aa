"""Reading the @colyseus/schema wire format: the primitive encodings, and the
decoder's most frequent step (runs of primitive field ops in Schema blocks).

Every read is bounds-checked and raises ``DecodeError`` with the offset.
"""

cimport cython
from cpython.bytes cimport PyBytes_AS_STRING
from cpython.long cimport PyLong_FromLongLong, PyLong_FromUnsignedLongLong
from cpython.object cimport PyTypeObject
from cpython.ref cimport Py_INCREF
from cpython.tuple cimport PyTuple_SET_ITEM
from libc.stdint cimport int8_t, int16_t, int32_t, int64_t, uint16_t, uint32_t, uint64_t
from libc.string cimport memcpy

from ._fieldtype cimport LAST_PRIMITIVE as T_LAST_PRIMITIVE
from ._schema_core cimport Field, SchemaCore, SchemaInfo, raw_put
from ._spec cimport (
    BIGINT64 as T_BIGINT64, BIGUINT64 as T_BIGUINT64, BOOLEAN as T_BOOLEAN, FLOAT32 as T_FLOAT32,
    FLOAT64 as T_FLOAT64, INT8 as T_INT8, INT16 as T_INT16, INT32 as T_INT32, INT64 as T_INT64,
    NUMBER as T_NUMBER, STRING as T_STRING, UINT8 as T_UINT8, UINT16 as T_UINT16, UINT32 as T_UINT32,
    UINT64 as T_UINT64, DELETE as OP_DELETE, SWITCH_TO_STRUCTURE,
)

from .errors import DecodeError

__all__ = ["Reader"]

cdef extern from "Python.h":
    object PyUnicode_DecodeUTF8(const char* s, Py_ssize_t size, const char* errors)
    object PyType_GenericAlloc(PyTypeObject* t, Py_ssize_t n)
    void PyObject_GC_UnTrack(void* op)

# The wire is little-endian; fixed-width values are copied out with memcpy,
# which needs a little-endian host (x86-64, arm64).
import sys
if sys.byteorder != "little":
    raise ImportError("the pyseus.schema decoder needs a little-endian machine")


@cython.auto_pickle(False)      # (it holds a pointer into `data`)
cdef class Reader:
    """A cursor over one message (its fields: _reader.pxd)."""

    def __init__(self, bytes data not None, Py_ssize_t pos=0):
        self.data = data
        self.d = <const unsigned char*>PyBytes_AS_STRING(data)
        self.pos = pos
        self.end = len(data)

    cdef Py_ssize_t _take(self, Py_ssize_t size) except -1:
        # the start of the next `size` bytes, which are then consumed
        cdef Py_ssize_t pos = self.pos
        if pos < 0 or size > self.end - pos:
            raise DecodeError(f"unexpected end of data (needed {size} bytes)", pos)
        self.pos = pos + size
        return pos

    cpdef int byte(self) except -1:
        cdef Py_ssize_t pos = self.pos
        if pos < 0 or pos >= self.end:
            raise DecodeError("unexpected end of data", pos)
        self.pos = pos + 1
        return self.d[pos]

    def peek(self):
        return self.d[self.pos] if 0 <= self.pos < self.end else -1

    cpdef object number(self):
        """A value of the ``number`` type (msgpack's integer and float forms)."""
        cdef Py_ssize_t at = self.pos
        cdef int p = self.byte()
        if p < 0x80:
            return p
        if p >= 0xE0:
            return p - 0x100
        if 0xCA <= p <= 0xD3:
            return self._fixed(_NUMBER_FORMS[p - 0xCA])
        raise DecodeError(f"invalid number prefix 0x{p:02x}", at)

    cpdef object index(self, what="index"):
        """A number used as a refId, index or type id: a non-negative integer."""
        cdef Py_ssize_t at = self.pos
        value = self.number()
        if isinstance(value, float):
            if not value.is_integer():
                raise DecodeError(f"{what} {value!r} is not an integer", at)
            value = int(value)
        if value < 0:
            raise DecodeError(f"{what} {value} is negative", at)
        return value

    cpdef str string(self):
        cdef Py_ssize_t at = self.pos
        cdef int p = self.byte()
        cdef Py_ssize_t n, start
        if 0xA0 <= p <= 0xBF:
            n = p & 0x1F
        elif p == 0xD9:
            n = self.d[self._take(1)]
        elif p == 0xDA:
            n = <uint16_t>_le(self.d + self._take(2), 2)
        elif p == 0xDB:
            n = <uint32_t>_le(self.d + self._take(4), 4)
        else:
            raise DecodeError(f"invalid string prefix 0x{p:02x}", at)
        start = self._take(n)
        try:
            return PyUnicode_DecodeUTF8(<const char*>self.d + start, n, NULL)
        except UnicodeDecodeError:
            raise DecodeError("invalid UTF-8 in string", start) from None

    cpdef object primitive(self, int code):
        """A value of the primitive type ``code`` (the compiled core's numbering)."""
        if code == T_STRING:
            return self.string()
        if code == T_NUMBER:
            return self.number()
        if code == T_BOOLEAN:
            return self.byte() > 0
        return self._fixed(code)

    cdef object _fixed(self, int code):
        # a fixed-width value: int8 .. uint64, float32, float64, bigint64, biguint64
        if code == T_FLOAT32:
            return _float(self.d + self._take(4), 4)
        if code == T_FLOAT64:
            return _float(self.d + self._take(8), 8)
        if code == T_INT8:
            return <int8_t>self.d[self._take(1)]
        if code == T_UINT8:
            return self.d[self._take(1)]
        if code == T_INT16:
            return <int16_t><uint16_t>_le(self.d + self._take(2), 2)
        if code == T_UINT16:
            return <uint16_t>_le(self.d + self._take(2), 2)
        if code == T_INT32:
            return <int32_t><uint32_t>_le(self.d + self._take(4), 4)
        if code == T_UINT32:
            return <uint32_t>_le(self.d + self._take(4), 4)
        if code == T_INT64 or code == T_BIGINT64:
            return PyLong_FromLongLong(<int64_t>_le(self.d + self._take(8), 8))
        if code == T_UINT64 or code == T_BIGUINT64:
            return PyLong_FromUnsignedLongLong(_le(self.d + self._take(8), 8))
        raise ValueError(f"{code} is not a primitive type code")


# the fixed-width form of each msgpack number prefix 0xca .. 0xd3
cdef int _NUMBER_FORMS[10]
_NUMBER_FORMS[:] = [T_FLOAT32, T_FLOAT64, T_UINT8, T_UINT16, T_UINT32, T_UINT64,
                    T_INT8, T_INT16, T_INT32, T_INT64]


cdef inline uint64_t _le(const unsigned char* p, size_t n) noexcept:
    # an n-byte little-endian unsigned integer (n <= 8)
    cdef uint64_t v = 0
    memcpy(&v, p, n)
    return v


cdef inline double _float(const unsigned char* p, size_t n) noexcept:
    # an IEEE-754 float32 (n = 4) or float64 (n = 8)
    cdef uint64_t bits = _le(p, n)
    cdef float f
    cdef double d
    if n == 4:
        memcpy(&f, &bits, 4)
        return f
    memcpy(&d, &bits, 8)
    return d


cdef object apply_runs(Reader r, dict refs, object ref, object refid, list changes, type change):
    """Apply the ops at ``r.pos`` while they set primitive fields of Schema
    instances (ADD, REPLACE or DELETE_AND_ADD), following SWITCH_TO_STRUCTURE to
    other known Schema instances, and record a ``change`` (a tuple subclass) for
    each value that is not the previous object. Return ``(ref, refid)``, the structure whose block
    the decoder's general path resumes at ``r.pos``: on anything else (a DELETE,
    a structure field, an unknown field, a collection's op, a switch to a
    collection or to an unknown refId, or a malformed refId, which the general
    path then reports). Most of a patch is such runs."""
    cdef SchemaInfo info
    cdef int b, op, index, code
    cdef Py_ssize_t at
    cdef object value, prev, nxt, rid
    while 0 <= r.pos < r.end:
        b = r.d[r.pos]
        if b == SWITCH_TO_STRUCTURE:
            if not isinstance(ref, SchemaCore):
                return ref, refid           # (the general path ends a collection's block)
            at = r.pos
            r.pos += 1
            try:
                rid = r.index("refId")
            except DecodeError:
                r.pos = at
                return ref, refid
            nxt = refs.get(rid)
            if not isinstance(nxt, SchemaCore):
                r.pos = at
                return ref, refid
            ref, refid = nxt, rid
            continue
        if not isinstance(ref, SchemaCore):
            return ref, refid
        info = (<SchemaCore>ref)._info
        op = b & 0xC0
        index = b & 0x3F
        if op == OP_DELETE or index >= info.nfields:
            return ref, refid
        code = info.codes[index]
        if code > T_LAST_PRIMITIVE:
            return ref, refid
        r.pos += 1
        value = r.primitive(code)
        prev = raw_put(<SchemaCore>ref, index, value)
        if value is not prev:
            changes.append(make_change(change, ref, refid, op, (<Field>info.fields[index]).name, value, prev))
    return ref, refid


cdef object make_change(type cls, object ref, object refid, int op, object key, object value, object prev):
    # cls(ref, refid, op, key, value, prev) for a tuple subclass (a NamedTuple, which
    # _decoding checks on import), without the Python-level __new__ it gets. Left out of the cycle collector:
    # a patch makes thousands of these short-lived records, and tracked they made
    # the collector walk the whole state every few hundred ops (a third of the
    # decoding time); nothing a change holds refers back to it.
    cdef object t = PyType_GenericAlloc(<PyTypeObject*>cls, 6)
    PyObject_GC_UnTrack(<void*>t)
    _set(t, 0, ref)
    _set(t, 1, refid)
    _set(t, 2, op)
    _set(t, 3, key)
    _set(t, 4, value)
    _set(t, 5, prev)
    return t


cdef inline void _set(object t, Py_ssize_t i, object item) noexcept:
    Py_INCREF(item)
    PyTuple_SET_ITEM(t, i, item)
