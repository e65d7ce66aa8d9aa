# cython: language_level=3, binding=False
"""The Encoder (declared in _encoder.pxd).

``Encoder`` is the ``Tracker`` at the root of a state (``_tracking``: refIds,
attachment, the queue of structures that changed) that also writes messages: it
walks that queue to write a patch (``encode``), or the attach order to write
the full state (``encode_all``). Each structure writes its own block; Schema
blocks, most of the traffic, are written inline (``_schema_core.pxd``). Classes
are numbered as the reflection handshake announces them (``_context``).
"""
from cpython.bytes cimport PyBytes_FromStringAndSize
from cpython.list cimport PyList_GET_ITEM
from cpython.mem cimport PyMem_Free
from cpython.object cimport PyObject
from cpython.ref cimport Py_INCREF, Py_XDECREF

from ._buffer cimport buf_byte, write_uint
from ._schema_core cimport SchemaCore, write_schema_changes
from ._spec cimport CLEAR, REF, SWITCH_TO_STRUCTURE

from ._context import type_ids

cdef extern from "Python.h":
    PyObject* _list_item "PyList_GET_ITEM"(object l, Py_ssize_t i)
    void _list_set "PyList_SET_ITEM"(object l, Py_ssize_t i, PyObject* o)


cdef inline void _store(list l, Py_ssize_t i, object value) noexcept:
    # l[i] = value without the generic item-assignment machinery
    cdef PyObject* old = _list_item(l, i)
    Py_INCREF(value)
    _list_set(l, i, <PyObject*>value)
    Py_XDECREF(old)


cdef inline int _switch_to(Encoder enc, Ref ref) except -1:
    # SWITCH_TO_STRUCTURE, except for the root when it is the first block
    if enc.buf.len != 0 or ref is not enc.state:
        buf_byte(&enc.buf, SWITCH_TO_STRUCTURE)
        write_uint(&enc.buf, ref.refid)
    return 0


cdef inline int _write_block(Encoder enc, Ref ref, bint full) except -1:
    # One structure's block, then the blocks its ops introduced.
    _switch_to(enc, ref)
    if full:
        ref.write_full(enc, &enc.buf)
    else:
        ref.write_changes(enc, &enc.buf)
    if enc.deferred:
        enc._flush_deferred(full)
    return 0


cdef class Encoder(Tracker):
    """Turns the changes made to ``state`` (a Schema instance) into @colyseus/schema 3.x bytes.

    ``encode()`` returns the patch of everything changed since the previous call
    (``b""`` when nothing changed) and forgets those changes; ``encode_all()``
    returns the full state for a joining client and keeps the pending changes;
    ``discard()`` forgets the pending changes; ``close()`` stops tracking the
    state so that another Encoder can take it.
    """

    def __cinit__(self, *args, **kwargs):
        self.buf.data = NULL
        self.buf.len = 0
        self.buf.cap = 0

    def __dealloc__(self):
        PyMem_Free(self.buf.data)

    def __init__(self, state):
        if not isinstance(state, Ref) or (<Ref>state).kind != REF:
            raise TypeError(f"Encoder() needs a Schema instance, got {type(state).__name__}")
        self.state = state
        self.deferred = []
        self.touched = None
        self.left_shared = []
        Tracker.__init__(self, state, type_ids(type(state)))

    # ---- views (the writer is pure Python: view parts are small) ----------------

    def encode_view(self, view) -> bytes:
        """The view part for the clients that use ``view`` (a ``StateView``), after
        the shared patch of ``encode()``: what became visible, what changed in what
        they see, and what they no longer see. ``b""`` when nothing did."""
        return self._views().encode(view)

    def encode_all_view(self, view) -> bytes:
        """The whole view part of ``view``, after ``encode_all()``, for a client that
        joins. Clients already using ``view`` must have had their ``encode_view``
        of the current state first (as the server does)."""
        return self._views().encode_all(view)

    def _views(self):
        if self.view_writer is None:
            from ._views import ViewWriter
            self.view_writer = ViewWriter(self)
        return self.view_writer

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
                    _write_block(self, ref, full)
                    if not full:
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
        cdef bint views = self.views
        if views:
            self.view_tick += 1
            self.touched = self.gone
            self.gone = []
            self.left_shared = self.unshared
            self.unshared = []
        if n == 0 and not self.preclear:
            return b""
        self.buf.len = 0
        self.epoch += 1
        (<Ref>self.state).intro = self.epoch
        if self.preclear:
            self._write_preclear()
        # One pass: write each structure's block, which forgets its changes.
        for i in range(n):
            ref = <Ref>PyList_GET_ITEM(pending, i)
            if ref.queue_pos != i:
                continue                      # stale entry (detached, or queued again later)
            if views:
                self.touched.append(ref)
                if ref.shared_links == 0:
                    # only in views: the view parts send it from what it holds now
                    ref.discard_changes()
                    ref.is_new = False
                    ref.queue_pos = -1
                    _store(pending, i, None)
                    continue
            if ref.kind == REF:
                # Schema blocks are most of the traffic: written inline
                if ref.nops:
                    if ref.is_new and ref.intro != self.epoch:
                        self.deferred.append(ref)
                        continue
                    _switch_to(self, ref)
                    write_schema_changes(<SchemaCore>ref, self, &self.buf)
                    if self.deferred:
                        self._flush_deferred(False)
            elif ref.has_changes():
                if ref.is_new and ref.intro != self.epoch:
                    # the decoder has not seen its refId yet: wait for the op that introduces it
                    self.deferred.append(ref)
                    continue
                _write_block(self, ref, False)
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
                buf_byte(&self.buf, CLEAR)
        self.preclear = []
        return 0

    def encode_all(self) -> bytes:
        """The full state, for a client that joins now. Pending changes are kept."""
        cdef Ref ref
        self.buf.len = 0
        self.epoch += 1
        (<Ref>self.state).intro = self.epoch
        for ref in self.full.values():
            if not ref.has_content() or (self.views and ref.shared_links == 0):
                continue
            if ref is not self.state and ref.intro != self.epoch:
                self.deferred.append(ref)
                continue
            _write_block(self, ref, True)
        self.deferred.clear()
        return PyBytes_FromStringAndSize(<char*>self.buf.data, self.buf.len)

    cdef void _discard(self):
        cdef Ref ref
        cdef Py_ssize_t i, n = self.npending
        if self.views:
            self.view_tick += 1
            self.touched = None         # (views must look at everything again)
            self.gone = []
            self.left_shared = self.unshared = []
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
            if ref.queue_pos == i and ref.has_changes() and (not self.views or ref.shared_links > 0):
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
            ref.shared_links = 0
            ref.holders = None
        self.full = {}
        self.pending = []
        self.npending = 0
