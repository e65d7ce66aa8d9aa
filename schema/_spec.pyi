# Type stub of the wire constants (schema/_spec.pxd).
from enum import IntEnum

class Operation(IntEnum):
    REPLACE = 0
    MOVE = 32
    DELETE_BY_REFID = 33
    DELETE = 64
    DELETE_AND_MOVE = 96
    ADD = 128
    ADD_BY_REFID = 129
    MOVE_AND_ADD = 160
    DELETE_AND_ADD = 192
    CLEAR = 10
    REVERSE = 15

class Marker(IntEnum):
    SWITCH_TO_STRUCTURE = 255
    TYPE_ID = 213

class TypeCode(IntEnum):
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
