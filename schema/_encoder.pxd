# The Encoder: the Tracker at the root of a state, which also writes whole
# messages (patches and full states).

from ._buffer cimport Buf
from ._tracking cimport Ref, Tracker


cdef class Encoder(Tracker):
    cdef readonly object state
    cdef list deferred                # blocks waiting for the op that introduces their refId
    cdef Buf buf

    cdef int _flush_deferred(self, bint full) except -1
    cdef int _write_preclear(self) except -1
    cdef void _discard(self)
