# The Encoder: the Tracker at the root of a state, which also writes whole
# messages (patches and full states).

from ._buffer cimport Buf
from ._tracking cimport Ref, Tracker


cdef class Encoder(Tracker):
    cdef readonly object state
    cdef list deferred                # blocks waiting for the op that introduces their refId
    cdef Buf buf
    # with views: one tick per encode() or discard(), the structures the last
    # encode() found changed (None after a discard), those that it found had left
    # the shared state, and the view parts' writer
    cdef readonly Py_ssize_t view_tick
    cdef readonly list touched
    cdef readonly list left_shared
    cdef object view_writer

    cdef int _flush_deferred(self, bint full) except -1
    cdef int _write_preclear(self) except -1
    cdef void _discard(self)
