# Change tracking: the Ref base class of every tracked structure, and the
# Tracker at the root of a state (the Encoder), which hands out refIds and
# queues the structures that changed.

from ._buffer cimport Buf
from ._fieldtype cimport FieldType


cdef enum:
    OP_NONE = 255          # "no operation recorded" (never written)


cdef class Ref


cdef class Tracker:
    cdef Py_ssize_t serial
    cdef Py_ssize_t next_refid
    cdef list pending                 # Refs in first-change order (stale entries skipped)
    cdef Py_ssize_t npending          # used length of pending (the list is reused)
    cdef dict full                    # refId -> Ref, in attach order
    cdef dict type_ids                # Schema class -> type id
    cdef Py_ssize_t epoch             # one per message written; Ref.intro compares with it
    cdef list preclear                # (refId, items, changed) of replaced collections
    cdef readonly bint views          # the state has view fields: keep track of what is shared
    cdef list gone                    # with views: structures detached since the last patch
    cdef list unshared                # with views: structures that left the shared state since then

    cdef void enqueue(self, Ref ref)
    cdef int attach(self, Ref ref) except -1
    cdef int detach(self, Ref ref) except -1
    cdef int linked(self, Ref parent, Ref child, bint view_slot) except -1
    cdef int unlinked(self, Ref parent, Ref child, bint view_slot) except -1
    cdef int share(self, Ref ref) except -1
    cdef int unshare(self, Ref ref) except -1
    cdef Py_ssize_t type_id(self, object cls) except -1
    cdef int write_item(self, Buf* b, FieldType ftype, object value, int op, bint next_is_type_id) except -1


cdef class Ref:
    # (what every assignment reads comes first: fewer cache lines per change)
    cdef Tracker root                 # the Encoder this structure is attached to, or None
    cdef Py_ssize_t queue_pos         # position in root.pending, -1 when not queued
    cdef int kind                     # REF for Schema, MAP.. for collections
    cdef int nops                     # Schema instances: fields touched in this patch
    cdef bint is_new                  # attached during the current patch
    cdef bint was_attached            # attached before: the decoder may have freed it
    cdef Py_ssize_t intro             # encode epoch in which a parent op introduced it
    cdef Py_ssize_t refid
    cdef Py_ssize_t owner             # serial of the Tracker that gave the refId (0: none)
    cdef Py_ssize_t refcount          # slots of attached parents that hold this structure
    cdef Py_ssize_t nlinks            # slots of any parent that hold this structure
    cdef FieldType child              # collections: item type (None until known)
    # With views (Tracker.views): how many shared slots hold this structure (a
    # structure no shared slot holds is only sent in view parts), and the
    # structures whose slots hold it, latest last (the path a view must show).
    cdef Py_ssize_t shared_links
    cdef list holders

    # What the Encoder asks of a structure (each kind implements them):
    cdef bint has_changes(self)
    cdef bint has_content(self)
    cdef int write_changes(self, Tracker enc, Buf* b) except -1   # writes them, then forgets them
    cdef int write_full(self, Tracker enc, Buf* b) except -1
    cdef void discard_changes(self)
    cdef list child_refs(self)
    cdef list shared_child_refs(self)     # child_refs but those in view fields
    cdef void resend_all(self)


# --- helpers for the structures (inlined where they are cimported) -----------

cdef inline void mark_changed(Ref ref):
    # Queue a structure on its Tracker the first time it changes in a patch.
    if ref.queue_pos < 0 and ref.root is not None:
        ref.root.enqueue(ref)

cdef int check_linkable(Ref child, Ref parent) except -1

cdef inline int link(Ref parent, Ref child, bint view_slot=False) except -1:
    # A slot of `parent` now holds `child` (call after storing it); `view_slot`:
    # the slot is a view field.
    child.nlinks += 1
    if parent.root is not None:
        parent.root.attach(child)
        if parent.root.views:
            parent.root.linked(parent, child, view_slot)
    return 0

cdef inline int unlink(Ref parent, Ref child, bint view_slot=False) except -1:
    # A slot of `parent` no longer holds `child` (call after removing it).
    child.nlinks -= 1
    if parent.root is not None:
        if parent.root.views:
            parent.root.unlinked(parent, child, view_slot)
        parent.root.detach(child)
    return 0

cdef int collection_leaves(Ref parent, Ref old) except -1
