# Type stub of Schema instances' compiled core (schema/_schema_core.pyx).
import builtins
from typing import Any, Callable, ClassVar, Iterable

from ._tracking import Ref
from ._fieldtype import FieldType

MAX_FIELDS: int

class SchemaInfo:
    cls: builtins.type
    fields: tuple[Field, ...]
    by_name: dict[str, Field]
    nfields: int
    ready: bool
    view_mask: int
    def __init__(self, cls: builtins.type, fields: list[Field], resolver: Callable[[builtins.type], None]) -> None: ...
    def resolve(self) -> None: ...

class Field:
    name: str
    index: int
    owner: builtins.type
    annotation: Any
    default: Any
    default_factory: Callable[[], Any] | None
    has_default: bool
    type: FieldType
    view: int | None
    wire_name: str
    def __init__(self, name: str, index: int, owner: builtins.type, annotation: Any, default: Any,
                 default_factory: Any, has_default: bool, view: int | None = None,
                 wire_name: str | None = None) -> None: ...
    def _set_type(self, t: FieldType) -> None: ...

class SchemaCore(Ref):
    __schema_info__: ClassVar[SchemaInfo]
    __schema_type_ids__: ClassVar[dict[builtins.type, int]]
    def __init__(self, **kwargs: Any) -> None: ...
    def to_json(self) -> dict[str, Any]: ...
    def _raw_get(self, index: int) -> Any: ...
    def _raw_set(self, index: int, value: Any) -> None: ...
    def _raw_values(self) -> list[Any]: ...

def set_fields(objects: Iterable[Any], indices: Iterable[int] | None = None, **columns: Iterable[Any]) -> None: ...
def _rebuild(cls: builtins.type, values: dict[str, Any]) -> Any: ...
