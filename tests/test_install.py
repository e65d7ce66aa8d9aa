"""``pip install .`` in a fresh virtual environment, as a user installs pyseus.

The wheel is built from the repository (compiling the Cython core) and installed
with its dependencies from the registry; nothing of the test run's own
environment is reused.
"""
from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.request
import venv
import zipfile
from pathlib import Path

import pytest

from tests.conftest import ROOT


def _run(*args: str | Path, cwd: Path, timeout: float = 600) -> str:
    result = subprocess.run([str(a) for a in args], cwd=cwd, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"{args}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(the wheel, the python of a fresh venv where it is installed)."""
    work = tmp_path_factory.mktemp("install")
    _run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", work / "dist", ROOT, cwd=work)
    (wheel,) = (work / "dist").glob("pyseus-*.whl")
    venv.create(work / "venv", with_pip=True)
    python = work / "venv" / "bin" / "python"
    _run(python, "-m", "pip", "install", "--quiet", wheel, cwd=work)
    return wheel, python


def test_the_wheel_ships_modules_and_declarations_not_sources(installed: tuple[Path, Path]) -> None:
    wheel, _ = installed
    names = zipfile.ZipFile(wheel).namelist()
    assert {n.split("/")[0] for n in names if not n.startswith("pyseus-")} == {"pyseus"}
    assert any(n.startswith("pyseus/schema/_encoder.") and n.endswith(".so") for n in names)
    assert "pyseus/schema/_tracking.pxd" in names and "pyseus/py.typed" in names
    assert not [n for n in names if n.endswith((".c", ".pyx"))]


def test_only_pyseus_is_installed_and_another_schema_package_changes_nothing(
        installed: tuple[Path, Path], tmp_path: Path) -> None:
    _, python = installed
    probe = ("import importlib.util, json, pyseus.schema, pyseus.server, pyseus.client, pyseus.testing; "
             "print(json.dumps({name: importlib.util.find_spec(name) is not None "
             "for name in ('schema', 'server', 'client', 'protocol', 'testing')}))")
    assert json.loads(_run(python, "-c", probe, cwd=tmp_path)) == dict.fromkeys(
        ("schema", "server", "client", "protocol", "testing"), False)
    _run(python, "-m", "pip", "install", "--quiet", "schema", cwd=tmp_path)       # the validation library
    check = ("import schema, pyseus.schema as ours; "
             "assert hasattr(schema, 'Schema') and not hasattr(schema, 'MapSchema'); "
             "print(ours.MapSchema.__module__)")
    assert _run(python, "-c", check, cwd=tmp_path).strip() == "pyseus.schema._collections"


def test_the_pyseus_command_serves_the_demo_rooms(installed: tuple[Path, Path], tmp_path: Path) -> None:
    _, python = installed
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen([python.parent / "pyseus", "--host", "127.0.0.1", "--port", str(port)],
                              cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/matchmake/state_room", timeout=2) as resp:
                    assert json.loads(resp.read()) == []
                    break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise
                time.sleep(0.1)
        request = urllib.request.Request(f"http://127.0.0.1:{port}/matchmake/joinOrCreate/state_room",
                                         data=b"{}", headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=5) as resp:
            seat = json.loads(resp.read())
        assert seat["room"]["name"] == "state_room" and seat["sessionId"]
    finally:
        server.terminate()
        _, stderr = server.communicate(timeout=15)
    assert server.returncode == 0 and "Traceback" not in stderr, stderr
    assert "uvloop loop" in stderr        # installed with pyseus on Linux, and used by default
