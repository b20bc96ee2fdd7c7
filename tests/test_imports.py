"""The package's modules import each other without a circle (DESIGN.md: imports point downwards).

The rule: every ``import`` of one unseen module by another counts, wherever it is written: at module
level, under ``if TYPE_CHECKING:``, or inside a function. A lazy import inside a function only puts
off the loading (to keep start-up light, or an optional extra unloaded); it is still a dependency,
so it is allowed in the downward direction only, never to a module that imports its importer back.
The one edge not counted is the implicit one from a module to its parent package's ``__init__``
(Python runs it first; it is not something a module writes).
"""

from __future__ import annotations

import ast
from pathlib import Path

import unseen

PACKAGE = Path(unseen.__file__).parent


def module_names() -> dict[str, Path]:
    """Every module of the package by its dotted name (a package by its own name)."""
    names = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = ("unseen", *path.relative_to(PACKAGE).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        names[".".join(parts)] = path
    return names


def imported(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The unseen modules that module ``name`` imports, anywhere in its text."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            stem = node.module or ""
            if node.level:
                parts = package.split(".")
                stem = ".".join([*parts[: len(parts) - node.level + 1], *([stem] if stem else [])])
            # ``from . import api`` names the module unseen.api; ``from .api import detect`` and
            # ``from .media import video`` name no more than they say (not the package above).
            found.update(f"{stem}.{a.name}" if f"{stem}.{a.name}" in modules else stem for a in node.names)
    return {module for module in found if module in modules and module != name}


def import_graph() -> dict[str, set[str]]:
    modules = module_names()
    return {name: imported(name, path, modules) for name, path in modules.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph`` (its modules in import order, the first repeated last), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_the_graph_sees_relative_and_lazy_imports():
    graph = import_graph()
    assert "unseen.api" in graph["unseen"]  # the package re-exports the API
    assert "unseen.review.cli" in graph["unseen.cli"]  # lazy, inside main(): counted
    assert "unseen.machine" in graph["unseen.detect.model"]  # ``from .. import machine``
    assert "unseen.detect" not in graph["unseen.api"]  # only the submodules it names


def test_no_import_circle():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import circle: " + " -> ".join(cycle or [])
