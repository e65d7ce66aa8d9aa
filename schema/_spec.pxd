# The constants of the @colyseus/schema wire format, defined once. The compiled
# modules cimport them; Python code imports them from `_spec` as the IntEnums
# Operation, Marker and TypeCode.

cpdef enum Operation:
    # what an op byte says about one field or item
    REPLACE = 0
    MOVE = 32
    DELETE_BY_REFID = 33
    DELETE = 64
    DELETE_AND_MOVE = 96
    ADD = 128
    ADD_BY_REFID = 129
    MOVE_AND_ADD = 160
    DELETE_AND_ADD = 192
    # collection-wide ops
    CLEAR = 10
    REVERSE = 15

cpdef enum Marker:
    # bytes that are not ops
    SWITCH_TO_STRUCTURE = 255      # then the refId of the structure the next ops apply to
    TYPE_ID = 213                  # after a refId: the type id of the instance's class

cpdef enum TypeCode:
    # the compiled core's numbering of field types (never on the wire):
    # primitives 0..14 in the order of the reflection's type names
    STRING = 0
    NUMBER = 1
    BOOLEAN = 2
    INT8 = 3
    UINT8 = 4
    INT16 = 5
    UINT16 = 6
    INT32 = 7
    UINT32 = 8
    INT64 = 9
    UINT64 = 10
    FLOAT32 = 11
    FLOAT64 = 12
    BIGINT64 = 13
    BIGUINT64 = 14
    REF = 20
    MAP = 21
    ARRAY = 22
    SET = 23
    COLLECTION = 24
