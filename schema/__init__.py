"""pyseus.schema: declarative game state synchronised with the @colyseus/schema 3.x wire format."""
try:
    from ._collections import ArraySchema, CollectionSchema, MapSchema, SetSchema
except ModuleNotFoundError as e:     # the source tree without its compiled modules
    if not (e.name or "").startswith(__name__ + "._"):
        raise
    raise ImportError(
        f"the compiled core of `pyseus.schema` ({e.name}) is not built next to {__path__[0]}: build it with "
        "`pip install -e .` (or `python setup.py build_ext --inplace`), or run from outside the "
        "source tree to use an installed copy") from e
from ._declaration import Schema, field
from .callbacks import Callbacks
from .changes import Change
from .decoder import Decoder
from ._encoder import Encoder
from ._schema_core import set_fields
from .errors import DecodeError, EncodeError, SchemaError, WireError
from .reflection import Reflection
from ._views import StateView
from .types import (
    bigint64, biguint64, boolean, float32, float64, int8, int16, int32, int64, number, string,
    uint8, uint16, uint32, uint64,
)

__all__ = [
    "Schema", "MapSchema", "ArraySchema", "SetSchema", "CollectionSchema", "field", "set_fields",
    "string", "number", "boolean", "int8", "uint8", "int16", "uint16", "int32", "uint32",
    "int64", "uint64", "float32", "float64", "bigint64", "biguint64",
    "Encoder", "Decoder", "Reflection", "Callbacks", "Change", "StateView",
    "SchemaError", "WireError", "EncodeError", "DecodeError",
]
