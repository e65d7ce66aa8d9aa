"""The wire types of Schema fields and how annotations map onto them.

Each primitive name is a ``typing.Annotated`` alias: type checkers see the
Python type (``x: float32`` is a ``float``), the schema package reads the wire
type from the metadata. Plain ``str``, ``bool``, ``float`` and ``int``
annotations are accepted as ``string``, ``boolean``, ``number`` and ``number``.
"""
from __future__ import annotations

import types as _pytypes
import typing
from typing import Annotated, Any, Union

from ._fieldtype import COLLECTION_NAMES, FieldType, collection_code, collection_type, primitive, ref_type
from .errors import SchemaError

__all__ = [
    "string", "number", "boolean", "int8", "uint8", "int16", "uint16", "int32", "uint32",
    "int64", "uint64", "float32", "float64", "bigint64", "biguint64",
    "FieldType", "field_type", "item_type",
]

string = Annotated[str, primitive("string")]
number = Annotated[float, primitive("number")]
boolean = Annotated[bool, primitive("boolean")]
int8 = Annotated[int, primitive("int8")]
uint8 = Annotated[int, primitive("uint8")]
int16 = Annotated[int, primitive("int16")]
uint16 = Annotated[int, primitive("uint16")]
int32 = Annotated[int, primitive("int32")]
uint32 = Annotated[int, primitive("uint32")]
int64 = Annotated[int, primitive("int64")]
uint64 = Annotated[int, primitive("uint64")]
float32 = Annotated[float, primitive("float32")]
float64 = Annotated[float, primitive("float64")]
bigint64 = Annotated[int, primitive("bigint64")]
biguint64 = Annotated[int, primitive("biguint64")]

_PLAIN = {str: "string", bool: "boolean", float: "number", int: "number"}


def _strip_optional(annotation: Any) -> tuple[Any, bool]:
    origin = typing.get_origin(annotation)
    if origin is Union or origin is _pytypes.UnionType:
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) != 1:
            raise SchemaError(f"{annotation!r}: a field has one type (only `T | None` is allowed)")
        return args[0], True
    return annotation, False


def field_type(annotation: Any) -> tuple[FieldType, bool]:
    """The wire type of a field annotation, and whether it was written ``T | None``."""
    inner, optional = _strip_optional(annotation)
    return _resolve(inner), optional


def item_type(annotation: Any) -> FieldType:
    """The wire type of a collection's items (``MapSchema[<this>]``)."""
    if isinstance(annotation, FieldType):
        return annotation
    inner, optional = _strip_optional(annotation)
    if optional:
        raise SchemaError(f"{annotation!r}: collection items cannot be None")
    return _resolve(inner)


def _resolve(annotation: Any) -> FieldType:
    if isinstance(annotation, FieldType):
        return annotation
    if typing.get_origin(annotation) is Annotated:
        for meta in annotation.__metadata__:
            if isinstance(meta, FieldType):
                return meta
        return _resolve(typing.get_args(annotation)[0])
    if isinstance(annotation, str):
        try:
            return primitive(annotation)
        except ValueError:
            raise SchemaError(f"unknown type name {annotation!r}") from None
    if annotation in _PLAIN:
        return primitive(_PLAIN[annotation])
    if isinstance(annotation, type) and getattr(annotation, "__schema_info__", None) is not None:
        return ref_type(annotation)       # a Schema class
    code = collection_code(typing.get_origin(annotation))
    if code is not None:
        (arg,) = typing.get_args(annotation)
        return collection_type(COLLECTION_NAMES[code], item_type(arg))   # raises SchemaError when nested
    if collection_code(annotation) is not None:
        name = annotation.__name__
        raise SchemaError(f"{name} needs an item type, e.g. {name}[string]")
    raise SchemaError(f"{annotation!r} is not a schema type")
