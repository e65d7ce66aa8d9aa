from typing import Any

MAX_DEPTH: int

def read(data: bytes | bytearray | memoryview) -> Any: ...
