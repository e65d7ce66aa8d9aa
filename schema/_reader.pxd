# The reader of the wire format, for the decoder's compiled core (_decoding).

cdef class Reader:
    cdef readonly bytes data            # (readonly: `d` points into it)
    cdef public Py_ssize_t pos           # (every read checks it against 0 and end)
    cdef readonly Py_ssize_t end         # len(data)
    cdef const unsigned char* d
    cdef Py_ssize_t _take(self, Py_ssize_t size) except -1
    cpdef int byte(self) except -1
    cpdef object number(self)
    cpdef object index(self, what=*)
    cpdef str string(self)
    cpdef object primitive(self, int code)
    cdef object _fixed(self, int code)


cdef object apply_runs(Reader r, dict refs, object ref, object refid, list changes, type change)
cdef object make_change(type cls, object ref, object refid, int op, object key, object value, object prev)
