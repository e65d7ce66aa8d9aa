# cython: language_level=3, binding=False
"""Field types (declared in _fieldtype.pxd): what a field or a collection item
may hold, and the check every assignment goes through.

A ``FieldType`` is a primitive (``float32``...), a Schema class (``ref``) or a
collection of one of those. Instances are interned, so types compare by
identity. ``check`` returns the value to store or raises ``TypeError`` /
``ValueError`` naming the field; collections convert plain dicts, lists and
sets through the collection classes, which register themselves here (they live
in ``_collections``, above this module).
"""
from cpython.long cimport PyLong_AsLongLongAndOverflow

import operator

from ._spec cimport (
    ARRAY, BOOLEAN, COLLECTION, FLOAT32, FLOAT64, INT8, INT16, INT32, INT64, MAP, NUMBER, REF, SET, STRING,
    UINT8, UINT16, UINT32, UINT64, BIGINT64,
)

from .errors import SchemaError

cdef extern from "Python.h":
    const char* PyUnicode_AsUTF8AndSize(object s, Py_ssize_t* size) except NULL
    bint PyLong_CheckExact(object o)

PRIMITIVE_NAMES = (
    "string", "number", "boolean", "int8", "uint8", "int16", "uint16", "int32",
    "uint32", "int64", "uint64", "float32", "float64", "bigint64", "biguint64",
)
COLLECTION_NAMES = {MAP: "map", ARRAY: "array", SET: "set", COLLECTION: "collection"}
_COLLECTION_CLASS_NAMES = {MAP: "MapSchema", ARRAY: "ArraySchema", SET: "SetSchema", COLLECTION: "CollectionSchema"}

# (low, high) for the integer types
_INT_RANGES = {
    INT8: (-0x80, 0x7f), UINT8: (0, 0xff),
    INT16: (-0x8000, 0x7fff), UINT16: (0, 0xffff),
    INT32: (-0x80000000, 0x7fffffff), UINT32: (0, 0xffffffff),
    INT64: (-(1 << 63), (1 << 63) - 1), UINT64: (0, (1 << 64) - 1),
    BIGINT64: (-(1 << 63), (1 << 63) - 1), BIGUINT64: (0, (1 << 64) - 1),
}

# C copies of the ranges up to 32 bits, for the fast path of FieldType.check
cdef long long _INT_LOW[9]
cdef long long _INT_HIGH[9]
for _code in range(INT8, UINT32 + 1):
    _INT_LOW[_code], _INT_HIGH[_code] = _INT_RANGES[_code]

# type code -> collection class; each class registers itself (see the module doc)
cdef dict _collection_classes = {}


def register_collection_class(int code, cls):
    """Called by each collection class: ``cls._coerce(field_type, value, where)``
    checks or converts values for fields of that kind."""
    _collection_classes[code] = cls


def collection_code(cls):
    """The type code of a registered collection class (None for any other class)."""
    for code, registered in _collection_classes.items():
        if registered is cls:
            return code
    return None


cdef object _as_int(object value, object where):
    if isinstance(value, bool):
        raise TypeError(f"{where}: expected an integer, got bool")
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        raise TypeError(f"{where}: expected an integer, got float {value!r}")
    try:
        return operator.index(value)
    except TypeError:
        raise TypeError(f"{where}: expected an integer, got {type(value).__name__}") from None


cdef object _as_float(object value, object where):
    if isinstance(value, bool) or isinstance(value, (str, bytes, bytearray)):
        raise TypeError(f"{where}: expected a number, got {type(value).__name__}")
    if isinstance(value, int):
        try:
            float(value)
        except OverflowError:
            raise ValueError(f"{where}: {value} is too large to be sent as a number") from None
        return int(value)
    if isinstance(value, float):
        return float(value)
    try:
        return float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{where}: expected a number, got {type(value).__name__}") from None


cdef class FieldType:
    """The declared type of a field or of the items of a collection.

    Instances are interned: equal types are the same object.
    """

    def __init__(self, *args):
        raise TypeError("FieldType objects are created by the schema package")

    cdef object check(self, object value, object where):
        # Return the value to store, or raise TypeError / ValueError.
        cdef int code = self.code
        cdef int overflow = 0
        cdef long long iv
        if code == FLOAT32 or code == FLOAT64 or code == NUMBER:
            if type(value) is float:
                return value
            return _as_float(value, where)
        if code == STRING:
            if isinstance(value, str):
                try:
                    PyUnicode_AsUTF8AndSize(value, NULL)
                except UnicodeEncodeError:
                    raise ValueError(f"{where}: the string cannot be encoded as UTF-8 (lone surrogate)") from None
                return value
            raise TypeError(f"{where}: expected str, got {type(value).__name__}")
        if code == BOOLEAN:
            if isinstance(value, bool):
                return value
            raise TypeError(f"{where}: expected bool, got {type(value).__name__}")
        if code <= LAST_PRIMITIVE:
            if PyLong_CheckExact(value) and code <= UINT32:
                iv = PyLong_AsLongLongAndOverflow(value, &overflow)
                if overflow == 0 and _INT_LOW[code] <= iv <= _INT_HIGH[code]:
                    return value
            value = _as_int(value, where)
            low, high = _INT_RANGES[code]
            if value < low or value > high:
                raise ValueError(f"{where}: {value} is out of range for {PRIMITIVE_NAMES[code]} ({low}..{high})")
            return value
        if code == REF:
            if isinstance(value, self.cls):
                return value
            raise TypeError(f"{where}: expected {self.cls.__name__}, got {type(value).__name__}")
        return _collection_classes[code]._coerce(self, value, where)

    def validate(self, value, where="value"):
        """Check ``value`` against this type; return what would be stored."""
        return self.check(value, where)

    @property
    def is_primitive(self) -> bool:
        return self.code <= LAST_PRIMITIVE

    @property
    def is_ref(self) -> bool:
        return self.code == REF

    @property
    def is_collection(self) -> bool:
        return self.code >= MAP

    @property
    def name(self) -> str:
        """The primitive name, ``"ref"``, or the collection kind (``"map"``...)."""
        if self.code <= LAST_PRIMITIVE:
            return PRIMITIVE_NAMES[self.code]
        if self.code == REF:
            return "ref"
        return COLLECTION_NAMES[self.code]

    def __reduce__(self):
        # types are interned: unpickling finds the same object again
        if self.code <= LAST_PRIMITIVE:
            return (primitive, (PRIMITIVE_NAMES[self.code],))
        if self.code == REF:
            return (ref_type, (self.cls,))
        return (collection_type, (COLLECTION_NAMES[self.code], self.child))

    def __copy__(self):
        return self

    def __deepcopy__(self, memo):
        return self

    def __repr__(self):
        return type_label(self.code, self.child) if self.code >= MAP else (
            self.cls.__name__ if self.code == REF else PRIMITIVE_NAMES[self.code])


cdef str type_label(int code, FieldType child):
    # "MapSchema[Player]": how messages name a collection type
    return f"{_COLLECTION_CLASS_NAMES[code]}[{child!r}]" if child is not None else _COLLECTION_CLASS_NAMES[code]


def collection_label(int code, FieldType child):
    """``type_label`` for Python code."""
    return type_label(code, child)


cdef FieldType _new_type(int code, object cls, FieldType child):
    cdef FieldType t = FieldType.__new__(FieldType)
    t.code = code
    t.cls = cls
    t.child = child
    t._wrapped = {}
    return t


cdef tuple _PRIMITIVES = tuple(_new_type(i, None, None) for i in range(LAST_PRIMITIVE + 1))
cdef dict _PRIMITIVES_BY_NAME = {PRIMITIVE_NAMES[i]: _PRIMITIVES[i] for i in range(LAST_PRIMITIVE + 1)}


cpdef FieldType primitive(str name):
    """The field type of a primitive wire type name (``"float32"``...)."""
    try:
        return _PRIMITIVES_BY_NAME[name]
    except KeyError:
        raise ValueError(f"unknown primitive type {name!r}") from None


cpdef FieldType ref_type(object cls):
    """The field type of a Schema class (cached on the class)."""
    t = cls.__dict__.get("__schema_ref_type__")
    if t is None:
        t = _new_type(REF, cls, None)
        type.__setattr__(cls, "__schema_ref_type__", t)
    return t


cpdef FieldType collection_type(str kind, FieldType child):
    """The field type of ``map``/``array``/``set``/``collection`` of ``child``."""
    cdef int code
    for code, name in COLLECTION_NAMES.items():
        if name == kind:
            break
    else:
        raise ValueError(f"unknown collection kind {kind!r}")
    if child.code >= MAP:
        raise SchemaError(
            f"{_COLLECTION_CLASS_NAMES[code]}[{child!r}]: a collection cannot hold collections "
            "directly (the 3.x decoder cannot read it); wrap the inner one in a Schema")
    t = child._wrapped.get(code)
    if t is None:
        t = _new_type(code, None, child)
        child._wrapped[code] = t
    return t
