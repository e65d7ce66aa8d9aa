"""Package-wide checks: one ``pyseus`` namespace, layers that import one way, strict typing."""
from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

from tests.conftest import FOLDERS, ROOT


def _modules() -> dict[str, Path]:
    """Every module of the pyseus package (Python and Cython sources), by its import name."""
    roots = {"pyseus": ROOT / "pyseus", **{f"pyseus.{name}": ROOT / folder for folder, name in FOLDERS.items()}}
    found: dict[str, Path] = {}
    for package, folder in roots.items():
        for path in sorted(folder.iterdir()):
            if path.suffix in (".py", ".pyx") and path.stem != "__main__":
                found[package if path.stem == "__init__" else f"{package}.{path.stem}"] = path
    return found


def _resolve(module: str, is_package: bool, level: int, target: str | None) -> str:
    if level == 0:
        return target or ""
    base = module.split(".")
    base = base if is_package else base[:-1]
    base = base[:len(base) - (level - 1)]
    return ".".join(base + ([target] if target else []))


_CYTHON_IMPORT = re.compile(r"^\s*from\s+(\.*)([\w.]*)\s+c?import\s+([\w\s,()]+)", re.M)


def _imports(module: str, path: Path, known: set[str]) -> set[str]:
    """The pyseus modules ``module`` imports anywhere in its body, except under ``if TYPE_CHECKING:``."""
    is_package = path.stem == "__init__"
    names: list[tuple[str, list[str]]] = []     # (imported module, names taken from it)
    if path.suffix == ".pyx":
        for dots, target, taken in _CYTHON_IMPORT.findall(path.read_text()):
            names.append((_resolve(module, is_package, len(dots), target or None),
                          [n.strip() for n in taken.replace("(", "").replace(")", "").split(",")]))
    else:
        tree = ast.parse(path.read_text())
        skipped: set[int] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                skipped.update(id(n) for child in node.body for n in ast.walk(child))
        for node in ast.walk(tree):
            if id(node) in skipped:
                continue
            if isinstance(node, ast.Import):
                names.extend((alias.name, []) for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                names.append((_resolve(module, is_package, node.level, node.module),
                              [alias.name for alias in node.names]))
    edges = set()
    for target, taken in names:
        submodules = {f"{target}.{name.split(' as ')[0].strip()}" for name in taken} & known
        edges |= submodules       # `from pyseus import protocol` imports the module pyseus.protocol
        if target in known and (len(submodules) < len(taken) or not taken):
            edges.add(target)     # (and names defined by the package itself: its __init__)
    return edges - {module}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in graph:
        if v not in index:
            visit(v)
    return found


def test_no_module_imports_one_that_imports_it_back() -> None:
    modules = _modules()
    graph = {name: _imports(name, path, set(modules)) for name, path in modules.items()}
    assert sum(len(edges) for edges in graph.values()) > 50        # the walk sees the imports
    assert "pyseus.server.engine" in graph["pyseus.server.session"]
    assert _cycles(graph) == []


def test_layers_import_one_way() -> None:
    modules = _modules()
    graph = {name: _imports(name, path, set(modules)) for name, path in modules.items()}

    def reaches(start: str, prefix: str) -> list[str]:
        seen, todo = set(), [start]
        while todo:
            for nxt in graph[todo.pop()]:
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        return sorted(m for m in seen if m.startswith(prefix))

    for module in modules:
        if module.startswith("pyseus.schema"):
            assert reaches(module, "pyseus.protocol") == reaches(module, "pyseus.server") == [], module
        if module.startswith("pyseus.protocol"):
            assert reaches(module, "pyseus.server") == reaches(module, "pyseus.client") == [], module
        if module.startswith("pyseus.client"):
            assert reaches(module, "pyseus.server") == reaches(module, "pyseus.testing") == [], module
        if module.startswith("pyseus.server"):
            assert reaches(module, "pyseus.client") == reaches(module, "pyseus.testing") == [], module


def test_the_client_loads_neither_the_server_nor_a_web_server() -> None:
    script = ("import sys, pyseus.client, pyseus.client.loadtest; "
              "print(sorted(m for m in sys.modules if m.startswith(('pyseus.server', 'pyseus.testing', 'aiohttp.web'))))")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, cwd="/")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_packages_pass_mypy_strict(source_view: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", "--config-file", str(ROOT / "pyproject.toml"),
         "-p", "pyseus"],
        cwd=source_view, capture_output=True, text=True, timeout=600,
        env={**os.environ, "MYPYPATH": str(source_view)})
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Success" in result.stdout
