# The output buffer and the writers of primitive values, as the @colyseus/schema
# encoder writes them. The small writers are inline here so that every module
# that writes bytes compiles them into its own loops.

from libc.stdint cimport uint32_t, uint64_t

cdef extern from "_wire.h":
    uint32_t sch_f32_bits(double d) nogil
    uint64_t sch_f64_bits(double d) nogil
    double sch_fround(double d) nogil


ctypedef struct Buf:
    unsigned char* data
    Py_ssize_t len
    Py_ssize_t cap


cdef int buf_grow(Buf* b, Py_ssize_t extra) except -1

cdef inline int buf_byte(Buf* b, unsigned char c) except -1:
    if b.len >= b.cap:
        buf_grow(b, 1)
    b.data[b.len] = c
    b.len += 1
    return 0

cdef inline int put_u16(Buf* b, uint32_t v) except -1:
    if b.len + 2 > b.cap:
        buf_grow(b, 2)
    b.data[b.len] = v & 0xff
    b.data[b.len + 1] = (v >> 8) & 0xff
    b.len += 2
    return 0

cdef inline int put_u32(Buf* b, uint32_t v) except -1:
    if b.len + 4 > b.cap:
        buf_grow(b, 4)
    b.data[b.len] = v & 0xff
    b.data[b.len + 1] = (v >> 8) & 0xff
    b.data[b.len + 2] = (v >> 16) & 0xff
    b.data[b.len + 3] = (v >> 24) & 0xff
    b.len += 4
    return 0

cdef inline int put_u64(Buf* b, uint64_t v) except -1:
    put_u32(b, <uint32_t>(v & 0xffffffffu))
    put_u32(b, <uint32_t>(v >> 32))
    return 0

cdef int write_large_uint(Buf* b, Py_ssize_t n) except -1

cdef inline int write_uint(Buf* b, Py_ssize_t n) except -1:
    # a refId, index or length, as the `number` type writes it
    if n < 0x80:
        return buf_byte(b, <unsigned char>n)
    return write_large_uint(b, n)

cdef int write_number(Buf* b, object value) except -1
cdef int write_string(Buf* b, object value) except -1
cdef int write_primitive(Buf* b, int code, object value) except -1
