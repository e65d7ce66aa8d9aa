# cython: language_level=3, binding=False
"""Change tracking (declared in _tracking.pxd).

``Ref`` is the base of every tracked structure (Schema instances and the
collections). A structure is *attached* while it is reachable from a state that
an Encoder tracks; the ``Tracker`` at that root (the Encoder's base class) gives
it a refId the first time, counts the slots that hold it, and queues it the
first time it changes in a patch. Values that are structures are written as
their refId by ``write_item``, with a type id when the instance's class is not
the declared one. Writing whole messages is the Encoder's part (``_encoder``).
"""
from cpython.list cimport PyList_GET_SIZE
from cpython.object cimport PyObject
from cpython.ref cimport Py_INCREF, Py_XDECREF

from ._buffer cimport buf_byte, write_primitive, write_uint
from ._fieldtype cimport LAST_PRIMITIVE, type_label
from ._spec cimport ADD, REF, TYPE_ID

from .errors import EncodeError

cdef extern from "Python.h":
    PyObject* _list_item "PyList_GET_ITEM"(object l, Py_ssize_t i)
    void _list_set "PyList_SET_ITEM"(object l, Py_ssize_t i, PyObject* o)


cdef inline void _store(list l, Py_ssize_t i, object value) noexcept:
    # l[i] = value without the generic item-assignment machinery
    cdef PyObject* old = _list_item(l, i)
    Py_INCREF(value)
    _list_set(l, i, <PyObject*>value)
    Py_XDECREF(old)


cdef class Ref:
    """Base of Schema instances and collections: what the Encoder tracks."""

    def __cinit__(self, *args, **kwargs):
        self.queue_pos = -1

    cdef bint has_changes(self):
        return False

    cdef bint has_content(self):
        return False

    cdef int write_changes(self, Tracker enc, Buf* b) except -1:
        return 0

    cdef int write_full(self, Tracker enc, Buf* b) except -1:
        return 0

    cdef void discard_changes(self):
        pass

    cdef list child_refs(self):
        return []

    cdef list shared_child_refs(self):
        return self.child_refs()

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

    @property
    def _shared(self):
        """Whether the structure is sent to every client (not only in view parts)."""
        return self.root is not None and (not self.root.views or self.shared_links > 0)

    @property
    def _holder(self):
        """The structure that holds this one (the latest of those that do), with views; else None."""
        return self.holders[len(self.holders) - 1] if self.holders else None    # (no wraparound here)

    @property
    def _holder_count(self):
        """How many slots of attached structures hold this one (with views)."""
        return len(self.holders) if self.holders else 0

    @property
    def _dirty(self):
        """Changed (or moved) since the Encoder's last patch."""
        return self.queue_pos >= 0


cdef int check_linkable(Ref child, Ref parent) except -1:
    # Called before storing `child` in a slot of `parent`.
    if child.kind == REF and parent.root is not None:
        parent.root.type_id(type(child))
    if child.kind != REF and child.nlinks > 0:
        raise ValueError(
            f"this {type_label(child.kind, child.child)} is already held by another field or "
            "collection; a collection can have only one parent (remove it there first, or assign a copy)")
    if child.root is not None and parent.root is not None and child.root is not parent.root:
        raise EncodeError("this instance is tracked by another Encoder")
    return 0


cdef int collection_leaves(Ref parent, Ref old) except -1:
    # A collection the decoder knows leaves a field (deleted, or replaced, maybe
    # later in the same patch). When the field ends up holding another collection,
    # the 3.x decoder releases the old one's items twice (at the op, and when it
    # frees the collection); items that stay in the state would be lost. The
    # Encoder then empties the old collection first, in its own block.
    if parent.root is None or old.is_new or (parent.root.views and old.shared_links == 0):
        return 0        # (a collection only in views: the view parts clear it themselves)
    items = old.child_refs()
    if items or old.has_changes():
        parent.root.preclear.append((old.refid, items, old.has_changes()))
    return 0


cdef inline void _hold(Ref child, Ref parent):
    if child.holders is None:
        child.holders = [parent]
    else:
        child.holders.append(parent)


cdef inline void _release(Ref child, Ref parent):
    # one slot of `parent` no longer holds `child`: forget one of its entries
    cdef Py_ssize_t i
    cdef list holders = child.holders
    if holders is None:
        return
    for i in range(len(holders) - 1, -1, -1):
        if holders[i] is parent:
            del holders[i]
            return


cdef Py_ssize_t _serial = 0


cdef class Tracker:
    """The root of a tracked state: refIds, attachment, and the queue of changes."""

    def __init__(self, Ref root, dict type_ids):
        global _serial
        if root.root is not None:
            raise EncodeError("this state is already tracked by an Encoder (close() it first)")
        _serial += 1
        self.serial = _serial
        self.pending = []
        self.full = {}
        self.preclear = []
        self.gone = []
        self.unshared = []
        self.type_ids = dict(type_ids)
        self.views = any(cls.__schema_info__.view_mask for cls in self.type_ids)
        # The root always gets refId 0; the decoder starts with it.
        root.owner = self.serial
        root.refid = 0
        root.was_attached = False
        self.next_refid = 1
        self.attach(root)
        if self.views:
            self.share(root)
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
            if self.views:
                _hold(child, ref)
                mark_changed(child)         # (a new way to it: views may show it there)
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
        ref.holders = None          # (no cycles left between detached structures)
        del self.full[ref.refid]
        if self.views:
            self.gone.append(ref)   # (views that show it must let go of it)
        for child in ref.child_refs():
            if self.views:
                _release(child, ref)
                mark_changed(child)
            self.detach(child)
        return 0

    cdef int linked(self, Ref parent, Ref child, bint view_slot) except -1:
        # With views: `child` entered a slot of `parent`; a move changes what views show.
        _hold(child, parent)
        mark_changed(child)
        if not view_slot and parent.shared_links > 0:
            self.share(child)
        return 0

    cdef int unlinked(self, Ref parent, Ref child, bint view_slot) except -1:
        _release(child, parent)
        mark_changed(child)
        if not view_slot and parent.shared_links > 0:
            self.unshare(child)
        return 0

    cdef int share(self, Ref ref) except -1:
        # One more shared slot holds `ref`: the first makes it (and what it holds
        # outside view fields) part of the shared patches.
        cdef Ref child
        ref.shared_links += 1
        if ref.shared_links > 1:
            return 0
        if ref.root is self and not ref.is_new:
            # It was only in views so far: clients without it get it whole.
            ref.is_new = True
            ref.resend_all()
            mark_changed(ref)
        for child in ref.shared_child_refs():
            self.share(child)
        return 0

    cdef int unshare(self, Ref ref) except -1:
        cdef Ref child
        ref.shared_links -= 1
        if ref.shared_links > 0:
            return 0
        self.unshared.append(ref)   # (its clients still hold what the shared patches gave them)
        for child in ref.shared_child_refs():
            self.unshare(child)
        return 0

    def _type_id_of(self, cls):
        """The type id of a Schema class in this Encoder's handshake (for view parts)."""
        return self.type_id(cls)

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
        if code <= LAST_PRIMITIVE:
            return write_primitive(b, code, value)
        r = <Ref>value
        write_uint(b, r.refid)
        r.intro = self.epoch
        if code == REF and (op & ADD):
            cls = type(value)
            if cls is not ftype.cls:
                tid = self.type_id(cls)
                if tid != self.type_id(ftype.cls) or next_is_type_id:
                    buf_byte(b, TYPE_ID)
                    write_uint(b, tid)
            elif next_is_type_id:
                # The next op byte is 0xd5 (DELETE_AND_ADD of field 21): the decoder
                # would read it as a TYPE_ID, so write an explicit one first.
                buf_byte(b, TYPE_ID)
                write_uint(b, self.type_id(cls))
        return 0
