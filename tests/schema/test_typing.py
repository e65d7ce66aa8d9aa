"""What a type checker sees: the primitive aliases are their Python types and
Schema classes get a keyword constructor (dataclass_transform)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SAMPLE = Path(__file__).parent / "typing_sample" / "game.py"


def test_mypy_understands_the_public_api(source_view: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--no-incremental", "--show-error-codes", str(SAMPLE)],
        capture_output=True, text=True, timeout=300, env={**os.environ, "MYPYPATH": str(source_view)})
    lines = result.stdout.splitlines()
    revealed = [line.split("Revealed type is ")[1].strip('"').rsplit(".", 1)[-1]
                for line in lines if "Revealed type" in line]
    assert revealed == ["float", "int", "Player", "str", "bytes"], result.stdout
    errors = [line for line in lines if ": error:" in line]
    # the only error is the deliberate one: a str passed for a float32 field
    assert len(errors) == 1 and 'Argument "x" to "Player"' in errors[0], result.stdout
