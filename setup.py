"""Build script for the compiled parts of ``pyseus.schema``.

Everything else is declared in pyproject.toml; this file only lists the Cython
extensions so that ``pip install .`` and ``pip install -e .`` compile them.

The sources stay in the repository's ``schema/`` folder, which installs as
``pyseus.schema``. Cython finds the ``.pxd`` of a relative cimport by the
module's full name (``pyseus/schema/_encoder.pxd``), so the build gives it that
view of the folder under ``build/cython-include``.
"""
import os
import shutil
from pathlib import Path

from Cython.Build import cythonize
from setuptools import Extension, setup

HERE = Path(__file__).resolve().parent
MODULES = ("_spec", "_buffer", "_fieldtype", "_tracking", "_schema_core", "_encoder", "_collections", "_reader")
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


extensions = [
    Extension(f"pyseus.schema.{name}", [f"schema/{name}.pyx"], include_dirs=["schema"])
    for name in MODULES
]

setup(ext_modules=cythonize(extensions, include_path=[include_view()], compiler_directives=DIRECTIVES))
