"""README's examples are checked: mypy --strict (with the plugin) on every Python
block, and its pytest example run as a user's project would run it."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

_BLOCK = re.compile(r"(?:<!-- file: (?P<name>[\w.]+) -->\n)?```python\n(?P<code>.*?)```", re.S)


def _examples() -> dict[str, str]:
    blocks = {}
    for i, match in enumerate(_BLOCK.finditer((ROOT / "README.md").read_text())):
        blocks[match["name"] or f"readme_{i}.py"] = match["code"]
    return blocks


def test_the_readme_has_its_examples() -> None:
    names = list(_examples())
    assert len(names) >= 5 and {"game.py", "test_game.py"} <= set(names)


def test_readme_examples_pass_mypy_strict(tmp_path: Path, source_view: Path) -> None:
    for name, code in _examples().items():
        (tmp_path / name).write_text(code)
    (tmp_path / "mypy.ini").write_text(
        "[mypy]\nplugins = pyseus.mypy_plugin\n"
        "[mypy-pygame.*]\nignore_missing_imports = True\n"      # not installed here
        "[mypy-msgpack.*]\nignore_missing_imports = True\n")
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", "--config-file", "mypy.ini",
         *sorted(_examples())],
        cwd=tmp_path, capture_output=True, text=True, timeout=600,
        env={**os.environ, "MYPYPATH": f"{source_view}{os.pathsep}{tmp_path}"})
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("runner", ["plugin", "pytest-asyncio"])
def test_readme_pytest_example_runs_in_a_users_project(pytester: pytest.Pytester, runner: str) -> None:
    examples = _examples()
    pytester.makepyfile(game=examples["game.py"], test_game=examples["test_game.py"])
    if runner == "plugin":
        # a project without pytest-asyncio and with no configuration at all
        args = ["-p", "no:asyncio", "-W", "error"]
    else:
        pytester.makeini("[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = function\n")
        args = ["-W", "error"]
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", *args, timeout=120)
    result.assert_outcomes(passed=1)
    assert "warning" not in result.stdout.str().lower()
