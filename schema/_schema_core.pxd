# Schema instances: the compiled base class of `Schema`, with the description of
# each class (SchemaInfo) and of each field (Field). The writer of a Schema
# block is inline here: the Encoder compiles it into its own loop.

from cpython.object cimport PyObject
from libc.stdint cimport uint32_t

from ._buffer cimport Buf, buf_grow, write_primitive
from ._fieldtype cimport LAST_PRIMITIVE, FieldType
from ._spec cimport DELETE, FLOAT32, INT8, INT16, TYPE_ID, UINT8, UINT16, UINT32
from ._tracking cimport OP_NONE, Ref, Tracker


cdef class SchemaInfo:
    cdef readonly object cls
    cdef readonly tuple fields          # Field descriptors, by index
    cdef readonly dict by_name
    cdef readonly int nfields
    cdef readonly bint ready
    cdef tuple types                    # FieldType of each index (after resolve)
    cdef tuple ref_indexes              # indexes of fields holding structures
    cdef readonly unsigned long long view_mask    # bit i: field i is a view field (left out of shared patches)
    cdef tuple shared_ref_indexes       # ref_indexes that are not view fields
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
    cdef readonly object view           # None, or the view tag (-1: field(view=True))
    cdef readonly str wire_name         # its name in handshakes and JSON (the attribute's by default)
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
    unsigned char order     # position j: the j-th field touched in this patch (Ref.nops of them)
    unsigned char full      # position j: the j-th field that holds a value, in first-set order


cdef class SchemaCore(Ref):
    # Field values live in the __slots__ that Schema's metaclass gives each
    # class (so that reads are plain slot reads); offsets come from SchemaInfo.
    cdef SchemaInfo _info
    cdef int nfull
    cdef unsigned long long fullmask    # bit i: field i holds a value
    cdef FieldRec* rec                  # by field index (op, bits) and by position (order, full):
    cdef FieldRec inline_rec[INLINE_FIELDS]   # here for small classes (a smaller object is
                                              # faster to work on), else on the heap
    cdef int assign(self, Field f, object value) except -1
    cdef int remove(self, int i) except -1
    cdef int _check_index(self, int index) except -1
    cdef PyObject* _field_at(self, object name)


cdef object raw_put(SchemaCore s, int i, object value)


# --- writing a Schema block (inline: the Encoder's hot loop) -----------------

cdef inline PyObject* slot_get(SchemaCore s, Py_ssize_t offset) noexcept:
    # borrowed reference to the value in a slot; None for an empty slot (a slot is
    # NULL only if someone deleted it through the class's member descriptor)
    cdef PyObject* v = (<PyObject**>((<char*><PyObject*>s) + offset))[0]
    return v if v != NULL else <PyObject*>None


cdef inline bint has_bits(int code) noexcept:
    # fields whose wire bytes SchemaCore keeps at assignment (FieldRec.bits)
    return code == FLOAT32 or INT8 <= code <= UINT32


cdef inline void put_bits(Buf* b, int code, uint32_t u) noexcept:
    # the little-endian bytes of a has_bits field; the caller made room for 4
    cdef unsigned char* d = b.data + b.len
    d[0] = u & 0xff
    if code == INT8 or code == UINT8:
        b.len += 1
        return
    d[1] = (u >> 8) & 0xff
    if code == INT16 or code == UINT16:
        b.len += 2
        return
    d[2] = (u >> 16) & 0xff
    d[3] = (u >> 24) & 0xff
    b.len += 4


cdef inline int write_value(SchemaCore s, Tracker enc, Buf* b, SchemaInfo info, int i, int code, int op,
                            bint next_is_type_id) except -1:
    # The value of field i (of type `code`) after its op byte, in a patch or a
    # full state; the caller made room for 4 bytes.
    if has_bits(code):
        put_bits(b, code, s.rec[i].bits)
    elif code <= LAST_PRIMITIVE:
        write_primitive(b, code, <object>slot_get(s, info.offsets[i]))
    else:
        enc.write_item(b, <FieldType>info.types[i], <object>slot_get(s, info.offsets[i]), op, next_is_type_id)
    return 0


cdef int write_shared_changes(SchemaCore s, Tracker enc, Buf* b) except -1


cdef inline int write_schema_changes(SchemaCore s, Tracker enc, Buf* b) except -1:
    # The ops of one Schema instance (the block body), which are then forgotten.
    cdef int j, i, op, code, nxt
    cdef int n = s.nops
    cdef SchemaInfo info = s._info
    if info.view_mask and enc.views:
        return write_shared_changes(s, enc, b)
    for j in range(n):
        i = s.rec[j].order
        op = s.rec[i].op
        s.rec[i].op = OP_NONE
        if b.len + 5 > b.cap:
            buf_grow(b, 5)
        b.data[b.len] = <unsigned char>(op | i)
        b.len += 1
        if op == DELETE:
            continue
        code = info.codes[i]
        nxt = 0
        if code > LAST_PRIMITIVE and j + 1 < n:
            nxt = s.rec[j + 1].order
            nxt = s.rec[nxt].op | nxt
        write_value(s, enc, b, info, i, code, op, nxt == TYPE_ID)
    s.nops = 0
    return 0
