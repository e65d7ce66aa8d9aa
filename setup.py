"""Build script for the compiled parts of ``pyseus.schema`` and ``pyseus.protocol``.

Everything else is declared in pyproject.toml; this file only lists the Cython
extensions so that ``pip install .`` and ``pip install -e .`` compile them.

The sources stay in the repository's ``schema/`` folder, which installs as
``pyseus.schema``. Cython finds the ``.pxd`` of a relative cimport by the
module's full name (``pyseus/schema/_encoder.pxd``), so the build gives it that
view of the folder under ``build/cython-include``.

It also bundles the Colyseus browser client that the playground page serves
(``server/static/browser-client.json`` pins it): the tarball comes from the
npm registry at build time, its integrity is checked, and its browser bundle
is written to ``server/static/vendor/`` (not kept in the repository). For a
build without network, point ``PYSEUS_BROWSER_CLIENT_TGZ`` at that tarball
(``npm pack colyseus.js@<version>``); without either, the build goes on and
the playground says what is missing.
"""
import base64
import hashlib
import io
import json
import os
import shutil
import sys
import tarfile
import urllib.request
from pathlib import Path

from Cython.Build import cythonize
from setuptools import Extension, setup

HERE = Path(__file__).resolve().parent
MODULES = ("_spec", "_buffer", "_fieldtype", "_tracking", "_schema_core", "_encoder", "_collections", "_reader",
           "_decoding")
DIRECTIVES = {
    "language_level": "3",
    "boundscheck": False,
    "wraparound": False,
    "cdivision": True,
    "initializedcheck": False,
}


def include_view() -> str:
    root = HERE / "build" / "cython-include"
    view = root / "pyseus" / "schema"
    view.parent.mkdir(parents=True, exist_ok=True)
    if not view.exists():
        try:
            os.symlink(HERE / "schema", view, target_is_directory=True)
        except OSError:      # no symlinks here: a copy of the declarations does as well
            shutil.copytree(HERE / "schema", view, ignore=shutil.ignore_patterns("*.pyx", "*.c", "*.so", "*.py"))
    return str(root)


def bundle_browser_client() -> None:
    static = HERE / "server" / "static"
    pin = json.loads((static / "browser-client.json").read_text())
    vendor = static / "vendor"
    stamp = vendor / "VERSION"
    if stamp.exists() and stamp.read_text().strip() == pin["version"]:
        return
    try:
        local = os.environ.get("PYSEUS_BROWSER_CLIENT_TGZ")
        if local:
            data = Path(local).read_bytes()
        else:
            with urllib.request.urlopen(pin["tarball"], timeout=60) as response:
                data = response.read()
        algorithm, _, expected = pin["integrity"].partition("-")
        if base64.b64encode(hashlib.new(algorithm, data).digest()).decode() != expected:
            raise ValueError(f"{pin['package']} {pin['version']}: the tarball does not match its pinned integrity")
        vendor.mkdir(exist_ok=True)
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
            for member, name in pin["members"].items():
                source = tar.extractfile(member)
                if source is None:
                    raise ValueError(f"{member} is missing from the tarball")
                (vendor / name).write_bytes(source.read())
        stamp.write_text(pin["version"] + "\n")
    except (OSError, ValueError, tarfile.TarError) as e:
        print(f"setup.py: the playground's browser client is not bundled ({e}); "
              "set PYSEUS_BROWSER_CLIENT_TGZ to a local tarball to bundle it offline", file=sys.stderr)


bundle_browser_client()

extensions = [
    Extension(f"pyseus.schema.{name}", [f"schema/{name}.pyx"], include_dirs=["schema"])
    for name in MODULES
]
# the WebSocket frame parser and the reader of colyseus.js messages: every message a room receives
extensions += [Extension(f"pyseus.protocol.{name}", [f"protocol/{name}.pyx"]) for name in ("_framing", "_unpacker")]

setup(ext_modules=cythonize(extensions, include_path=[include_view()], compiler_directives=DIRECTIVES))
