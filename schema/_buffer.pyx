# cython: language_level=3, binding=False
"""The output buffer and the writers of primitive values (declared in _buffer.pxd).

Values arrive here already checked by their field type; the writers only turn
them into the bytes the @colyseus/schema 3.x decoder reads: msgpack-like
prefixes with little-endian bodies for ``number`` and ``string``, fixed-width
little-endian for the sized types.
"""
from cpython.bytes cimport PyBytes_FromStringAndSize
from cpython.float cimport PyFloat_AS_DOUBLE
from cpython.long cimport PyLong_AsLongLong, PyLong_AsLongLongAndOverflow, PyLong_AsUnsignedLongLong
from cpython.mem cimport PyMem_Free, PyMem_Realloc
from libc.math cimport fabs, isinf, isnan
from libc.stdint cimport int64_t, uint32_t, uint64_t
from libc.string cimport memcpy

from ._spec cimport (
    BIGINT64, BIGUINT64, BOOLEAN, FLOAT32, FLOAT64, INT8, INT16, INT32, INT64, NUMBER, STRING, UINT8,
    UINT16, UINT32, UINT64,
)

from .errors import EncodeError

cdef extern from "Python.h":
    const char* PyUnicode_AsUTF8AndSize(object s, Py_ssize_t* size) except NULL
    bint PyFloat_CheckExact(object o)
    bint PyLong_CheckExact(object o)
    double PyFloat_AsDouble(object o) except? -1.0


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
    if code == FLOAT32:
        if PyFloat_CheckExact(value):
            return put_u32(b, sch_f32_bits(PyFloat_AS_DOUBLE(value)))
        return put_u32(b, sch_f32_bits(PyFloat_AsDouble(value)))
    if code == NUMBER:
        return write_number(b, value)
    if code == STRING:
        return write_string(b, value)
    if code == FLOAT64:
        return put_u64(b, sch_f64_bits(PyFloat_AsDouble(value)))
    if code == BOOLEAN:
        return buf_byte(b, 1 if value else 0)
    if code == INT8 or code == UINT8:
        return buf_byte(b, <unsigned char>PyLong_AsLongLong(value))
    if code == INT16 or code == UINT16:
        return put_u16(b, <uint32_t>PyLong_AsLongLong(value))
    if code == INT32 or code == UINT32:
        return put_u32(b, <uint32_t>PyLong_AsLongLong(value))
    if code == INT64 or code == BIGINT64:
        return put_u64(b, <uint64_t>PyLong_AsLongLong(value))
    if code == UINT64 or code == BIGUINT64:
        return put_u64(b, PyLong_AsUnsignedLongLong(value))
    raise EncodeError(f"unknown type code {code}")


def pack_primitive(int code, object value) -> bytes:
    """The wire bytes of one primitive value of type ``code``, already checked by
    its field type (``pyseus.schema.wire.encode_primitive`` checks, then calls this)."""
    cdef Buf b
    b.data = NULL
    b.len = 0
    b.cap = 0
    try:
        write_primitive(&b, code, value)
        return PyBytes_FromStringAndSize(<char*>b.data, b.len)
    finally:
        PyMem_Free(b.data)
