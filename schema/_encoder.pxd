# Shared declarations of the compiled core: wire constants, the output buffer,
# field types, the tracked-structure base class and the Encoder (which is also
# the root tracker that hands out refIds and queues changed structures).

from libc.stdint cimport uint32_t, uint64_t
from cpython.object cimport PyObject

cdef extern from "_wire.h":
    uint32_t sch_f32_bits(double d) nogil
    uint64_t sch_f64_bits(double d) nogil
    double sch_fround(double d) nogil

cdef enum:
    OP_REPLACE = 0
    OP_DELETE = 64
    OP_ADD = 128
    OP_DELETE_AND_ADD = 192
    OP_CLEAR = 10
    OP_REVERSE = 15
    OP_NONE = 255          # "no operation recorded" (never written)
    SWITCH_TO_STRUCTURE = 255
    TYPE_ID_BYTE = 213

# Type codes. Primitives are 0..14 in the order of the wire names table.
cdef enum:
    T_STRING = 0
    T_NUMBER = 1
    T_BOOLEAN = 2
    T_INT8 = 3
    T_UINT8 = 4
    T_INT16 = 5
    T_UINT16 = 6
    T_INT32 = 7
    T_UINT32 = 8
    T_INT64 = 9
    T_UINT64 = 10
    T_FLOAT32 = 11
    T_FLOAT64 = 12
    T_BIGINT64 = 13
    T_BIGUINT64 = 14
    T_LAST_PRIMITIVE = 14
    T_REF = 20
    T_MAP = 21
    T_ARRAY = 22
    T_SET = 23
    T_COLLECTION = 24


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


cdef class FieldType:
    cdef readonly int code
    cdef readonly object cls          # the Schema class of a ref field
    cdef readonly FieldType child     # the item type of a collection
    cdef dict _wrapped                # collection types built around this one, by code
    cdef object check(self, object value, object where)


cdef class Ref:
    # (what every assignment reads comes first: fewer cache lines per change)
    cdef Encoder root                 # the Encoder this structure is attached to, or None
    cdef Py_ssize_t queue_pos         # position in root.pending, -1 when not queued
    cdef int kind                     # T_REF for Schema, T_MAP.. for collections
    cdef bint is_new                  # attached during the current patch
    cdef bint was_attached            # attached before: the decoder may have freed it
    cdef Py_ssize_t intro             # encode epoch in which a parent op introduced it
    cdef Py_ssize_t refid
    cdef Py_ssize_t owner             # serial of the Encoder that gave the refId (0: none)
    cdef Py_ssize_t refcount          # slots of attached parents that hold this structure
    cdef Py_ssize_t nlinks            # slots of any parent that hold this structure
    cdef FieldType child              # collections: item type (None until known)

    cdef bint has_changes(self)
    cdef bint has_content(self)
    cdef int write_changes(self, Encoder enc, Buf* b) except -1
    cdef int write_full(self, Encoder enc, Buf* b) except -1
    cdef void discard_changes(self)
    cdef list child_refs(self)
    cdef void resend_all(self)


cdef class Encoder:
    cdef readonly object state
    cdef Py_ssize_t serial
    cdef Py_ssize_t next_refid
    cdef list pending                 # Refs in first-change order (stale entries skipped)
    cdef Py_ssize_t npending          # used length of pending (the list is reused)
    cdef dict full                    # refId -> Ref, in attach order
    cdef dict type_ids                # Schema class -> type id
    cdef Py_ssize_t epoch
    cdef list deferred
    cdef list preclear                # (refId, items, changed) of replaced collections
    cdef Buf buf

    cdef void enqueue(self, Ref ref)
    cdef int attach(self, Ref ref) except -1
    cdef int detach(self, Ref ref) except -1
    cdef Py_ssize_t type_id(self, object cls) except -1
    cdef int write_item(self, Buf* b, FieldType ftype, object value, int op, bint next_is_type_id) except -1
    cdef int _write_block(self, Ref ref, bint full) except -1
    cdef int _flush_deferred(self, bint full) except -1
    cdef int _write_preclear(self) except -1
    cdef void _discard(self)


cdef class SchemaInfo:
    cdef readonly object cls
    cdef readonly tuple fields          # Field descriptors, by index
    cdef readonly dict by_name
    cdef readonly int nfields
    cdef readonly bint ready
    cdef tuple types                    # FieldType of each index (after resolve)
    cdef tuple ref_indexes              # indexes of fields holding structures
    cdef int codes[64]
    cdef Py_ssize_t offsets[64]         # where each field's value lives in an instance
    cdef Py_ssize_t slot_base           # lowest of those offsets
    cdef list by_slot                   # Field (or None) by (offset - slot_base) / pointer size
    cdef Py_ssize_t nslots
    cdef object resolver
    cdef int ensure_ready(self) except -1


cdef class Field:
    cdef readonly str name
    cdef readonly int index
    cdef readonly object owner          # the class that declared it
    cdef readonly object annotation
    cdef readonly object default
    cdef readonly object default_factory
    cdef readonly bint has_default
    cdef readonly FieldType type
    cdef int code                       # type.code, at hand for the assignment path
    cdef Py_ssize_t offset              # of the value's slot in an instance
    cdef str where
    cdef object _initial(self)


cdef enum:
    INLINE_FIELDS = 8


ctypedef struct FieldRec:
    # One record per field index, interleaved so that the bookkeeping of a small
    # class's fields shares one or two cache lines.
    uint32_t bits           # field i: wire bits of a float32 or 8-32-bit int value (set on assignment)
    unsigned char op        # field i: op recorded in this patch (OP_NONE if none)
    unsigned char order     # position j: the j-th field touched in this patch
    unsigned char full      # position j: the j-th field that holds a value, in first-set order


cdef class SchemaCore(Ref):
    # Field values live in the __slots__ that Schema's metaclass gives each
    # class (so that reads are plain slot reads); offsets come from SchemaInfo.
    cdef SchemaInfo _info
    cdef int norder
    cdef int nfull
    cdef unsigned long long fullmask    # bit i: field i holds a value
    cdef FieldRec* rec                  # by field index (op, bits) and by position (order, full):
    cdef FieldRec inline_rec[INLINE_FIELDS]   # here for small classes (a smaller object is
                                              # faster to work on), else on the heap
    cdef int assign(self, Field f, object value) except -1
    cdef int remove(self, int i) except -1
    cdef int _check_index(self, int index) except -1
    cdef PyObject* _field_at(self, object name)


# --- helpers for the structures (inlined where they are cimported) -----------

cdef inline void mark_changed(Ref ref):
    # Queue a structure on its Encoder the first time it changes in a patch.
    if ref.queue_pos < 0 and ref.root is not None:
        ref.root.enqueue(ref)

cdef int check_linkable(Ref child, Ref parent) except -1

cdef inline int link(Ref parent, Ref child) except -1:
    # A slot of `parent` now holds `child` (call after storing it).
    child.nlinks += 1
    if parent.root is not None:
        parent.root.attach(child)
    return 0

cdef inline int unlink(Ref parent, Ref child) except -1:
    # A slot of `parent` no longer holds `child` (call after removing it).
    child.nlinks -= 1
    if parent.root is not None:
        parent.root.detach(child)
    return 0


cdef object raw_put(SchemaCore s, int i, object value)
