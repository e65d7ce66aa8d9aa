from typing import Any

from .changes import Change

class DecoderCore:
    """The tables and the ops of a decoder."""
    state: Any
    types: dict[int, type]
    strict: bool
    callbacks: Any
    refs: dict[int, Any]
    refcounts: dict[int, int]
    parents: dict[int, tuple[int, str]]
    def reset(self, state: Any) -> None: ...
    def ref_id(self, obj: Any) -> int | None: ...
    def decode(self, data: bytes | bytearray | memoryview) -> list[Change]: ...
