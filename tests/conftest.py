"""Fixtures shared by every test package.

pytester runs a test file in a subprocess (tests/testing/ uses it to check that
the installed pytest plugin loads by itself).
"""
from __future__ import annotations

from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parents[1]
# repository folder -> the package it installs as (pyproject.toml, [tool.setuptools.package-dir])
FOLDERS = {"schema": "schema", "protocol": "protocol", "server": "server", "client": "client", "testing": "testing"}


@pytest.fixture(scope="session")
def source_view(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory holding ``pyseus/`` as an installed copy lays it out, made of
    links to the repository's folders, for tools that cannot follow an editable
    install's import hook (mypy): put it on MYPYPATH."""
    view = tmp_path_factory.mktemp("view")
    package = view / "pyseus"
    package.mkdir()
    for item in (ROOT / "pyseus").iterdir():
        (package / item.name).symlink_to(item)
    for folder, name in FOLDERS.items():
        (package / name).symlink_to(ROOT / folder, target_is_directory=True)
    return view
