# Field types: the declared type of a field or of a collection's items.

from ._spec cimport BIGUINT64

cdef enum:
    LAST_PRIMITIVE = BIGUINT64      # type codes up to this one are primitives


cdef class FieldType:
    cdef readonly int code
    cdef readonly object cls          # the Schema class of a ref field
    cdef readonly FieldType child     # the item type of a collection
    cdef dict _wrapped                # collection types built around this one, by code
    cdef object check(self, object value, object where)


cdef str type_label(int code, FieldType child)
