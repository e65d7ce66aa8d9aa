"""The compiled MessagePack reader for what colyseus.js sends (msgpackr records).

``messagepack.unpack`` hands standard MessagePack to the C ``msgpack``
package; payloads with records (every object a colyseus.js client sends),
``undefined`` or timestamps come here. Records: ``d4 72 <id>`` defines the
key list of slot ``id & 0x3f`` and is followed by the values; a later byte
``0x40 | slot`` in the same message is an object with those keys.
"""

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from libc.stdint cimport int8_t, int16_t, int32_t, int64_t, uint8_t, uint16_t, uint32_t, uint64_t
from libc.string cimport memcpy

import datetime

from .errors import MessagePackError

__all__ = ["read", "MAX_DEPTH"]

MAX_DEPTH = 64
cdef int _MAX_DEPTH = MAX_DEPTH
_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
_timedelta = datetime.timedelta


def read(data):
    """The one value that ``data`` holds (all of it); raises ``MessagePackError``."""
    cdef bytes raw = data if type(data) is bytes else bytes(data)
    cdef _Reader r = _Reader(raw)
    value = r.value(0)
    if r.pos != r.end:
        raise MessagePackError(f"{r.end - r.pos} bytes after the value")
    return value


cdef inline uint64_t _be(const uint8_t* p, int n):
    cdef uint64_t v = 0
    cdef int i
    for i in range(n):
        v = (v << 8) | p[i]
    return v


cdef class _Reader:
    cdef bytes data
    cdef const uint8_t* d
    cdef Py_ssize_t pos
    cdef Py_ssize_t end
    cdef dict records          # slot -> key list

    def __cinit__(self, bytes data):
        self.data = data
        self.d = <const uint8_t*>PyBytes_AS_STRING(data)
        self.pos = 0
        self.end = PyBytes_GET_SIZE(data)
        self.records = {}

    cdef Py_ssize_t take(self, uint64_t n) except -1:
        cdef Py_ssize_t pos = self.pos
        if n > <uint64_t>(self.end - pos):
            raise MessagePackError(f"truncated at byte {pos} (needed {n} more)")
        self.pos = pos + <Py_ssize_t>n
        return pos

    cdef uint64_t uint(self, int n) except? 0xFFFFFFFFFFFFFFFF:
        return _be(self.d + self.take(n), n)

    cdef object value(self, int depth):
        cdef int b
        cdef uint64_t n
        cdef Py_ssize_t start
        cdef int64_t signed
        cdef uint32_t bits32
        cdef float f
        cdef uint64_t bits64
        cdef double g
        if depth > _MAX_DEPTH:
            raise MessagePackError("nesting too deep")
        b = self.d[self.take(1)]
        if b <= 0x7F:
            if b >= 0x40:
                keys = self.records.get(b & 0x3F)
                if keys is not None:
                    return self.record(keys, depth)
            return b
        if b >= 0xE0:
            return b - 0x100
        if b <= 0x8F:
            return self.read_map(b & 0x0F, depth)
        if b <= 0x9F:
            return self.read_array(b & 0x0F, depth)
        if b <= 0xBF:
            return self.read_text(b & 0x1F)
        if b == 0xC0:
            return None
        if b == 0xC2:
            return False
        if b == 0xC3:
            return True
        if 0xC4 <= b <= 0xC6:
            n = self.uint(1 << (b - 0xC4))
            start = self.take(n)
            return PyBytes_FromStringAndSize(<const char*>(self.d + start), <Py_ssize_t>n)
        if 0xC7 <= b <= 0xC9:
            n = self.uint(1 << (b - 0xC7))
            return self.ext(<int8_t>self.d[self.take(1)], n, depth)
        if b == 0xCA:
            bits32 = <uint32_t>self.uint(4)
            memcpy(&f, &bits32, 4)
            return <double>f
        if b == 0xCB:
            bits64 = self.uint(8)
            memcpy(&g, &bits64, 8)
            return g
        if 0xCC <= b <= 0xCF:
            return self.uint(1 << (b - 0xCC))
        if b == 0xD0:
            return <int8_t>self.uint(1)
        if b == 0xD1:
            return <int16_t>self.uint(2)
        if b == 0xD2:
            return <int32_t>self.uint(4)
        if b == 0xD3:
            return <int64_t>self.uint(8)
        if 0xD4 <= b <= 0xD8:
            return self.ext(<int8_t>self.d[self.take(1)], 1 << (b - 0xD4), depth)
        if 0xD9 <= b <= 0xDB:
            return self.read_text(self.uint(1 << (b - 0xD9)))
        if b == 0xDC or b == 0xDD:
            return self.read_array(self.uint(2 if b == 0xDC else 4), depth)
        if b == 0xDE or b == 0xDF:
            return self.read_map(self.uint(2 if b == 0xDE else 4), depth)
        raise MessagePackError(f"invalid byte 0x{b:02x} at {self.pos - 1}")

    cdef str read_text(self, uint64_t n):
        cdef Py_ssize_t start = self.take(n)
        try:
            return (<const char*>(self.d + start))[:<Py_ssize_t>n].decode("utf-8")
        except UnicodeDecodeError:
            raise MessagePackError(f"invalid UTF-8 at byte {start}") from None

    cdef list read_array(self, uint64_t n, int depth):
        cdef uint64_t i
        if n > <uint64_t>(self.end - self.pos):
            raise MessagePackError("array longer than the data")
        out = []
        for i in range(n):
            out.append(self.value(depth + 1))
        return out

    cdef dict read_map(self, uint64_t n, int depth):
        cdef uint64_t i
        if n > <uint64_t>(self.end - self.pos):
            raise MessagePackError("map longer than the data")
        out = {}
        for i in range(n):
            key = self.value(depth + 1)
            item = self.value(depth + 1)
            try:
                out[key] = item
            except TypeError:
                raise MessagePackError(f"unusable map key {key!r}") from None
        return out

    cdef dict record(self, list keys, int depth):
        out = {}
        for key in keys:
            out[key] = self.value(depth + 1)
        return out

    cdef object ext(self, int ext, uint64_t n, int depth):
        cdef Py_ssize_t start = self.take(n)
        if ext == 0x72 and n == 1:
            # a record definition: the id, then the key list, then the values
            slot = self.d[start] & 0x3F
            keys = self.value(depth + 1)
            if type(keys) is not list or not all(isinstance(k, (str, int)) for k in keys):
                raise MessagePackError("a record definition needs a list of keys")
            self.records[slot] = keys
            return self.record(keys, depth)
        if ext == 0 and n == 1:
            return None    # JS undefined
        if ext == -1:
            return _timestamp(self.d + start, n)
        raise MessagePackError(f"unsupported MessagePack extension type {ext}")


cdef object _timestamp(const uint8_t* p, uint64_t n):
    cdef uint64_t value
    if n == 4:
        seconds, nanos = _be(p, 4), 0
    elif n == 8:
        value = _be(p, 8)
        seconds, nanos = value & 0x3FFFFFFFF, value >> 34
    elif n == 12:
        nanos, seconds = _be(p, 4), <int64_t>_be(p + 4, 8)
    else:
        raise MessagePackError("invalid timestamp extension")
    try:
        return _EPOCH + _timedelta(seconds=seconds, microseconds=nanos // 1000)
    except OverflowError:
        raise MessagePackError("timestamp out of range") from None
