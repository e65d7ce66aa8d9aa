"""Build script for the compiled parts of ``schema``.

Everything else is declared in pyproject.toml; this file only lists the Cython
extensions so that ``pip install .`` and ``pip install -e .`` compile them.
"""
from Cython.Build import cythonize
from setuptools import Extension, setup

DIRECTIVES = {
    "language_level": "3",
    "boundscheck": False,
    "wraparound": False,
    "cdivision": True,
    "initializedcheck": False,
}

extensions = [
    Extension(f"schema.{name}", [f"schema/{name}.pyx"], include_dirs=["schema"])
    for name in ("_encoder", "_collections", "_reader")
]

setup(ext_modules=cythonize(extensions, compiler_directives=DIRECTIVES))
