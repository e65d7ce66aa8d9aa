# Type stub of the primitive writers (schema/_buffer.pyx).
from typing import Any

def pack_primitive(code: int, value: Any) -> bytes: ...
