# Type stub of change tracking (schema/_tracking.pyx).

class Ref:
    """Base of every tracked structure."""
    @property
    def _refid(self) -> int | None: ...
    @property
    def _encoder(self) -> Tracker | None: ...

class Tracker:
    """The root of a tracked state (the Encoder's base class)."""
