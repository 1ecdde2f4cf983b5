"""The package's modules import one another without a circle, lazy imports included.

A lazy import inside a function is still an arrow: a circle of them is a
tangle waiting for the first caller that imports in the other order.
Imports under ``if TYPE_CHECKING:`` never run, so they are no arrow.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

import autoskillit_trace

PACKAGE = Path(autoskillit_trace.__file__).parent
NAME = autoskillit_trace.__name__


def modules() -> dict[str, Path]:
    """Every module of the package by dotted name (a package by its own name)."""
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _executed(tree: ast.AST) -> list[ast.AST]:
    """Every node that can run: all but the ``if TYPE_CHECKING:`` blocks (types only)."""
    found: list[ast.AST] = []
    pending = [tree]
    while pending:
        node = pending.pop()
        found.append(node)
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            pending.extend(node.orelse)
        else:
            pending.extend(ast.iter_child_nodes(node))
    return found


def _is_type_checking(test: ast.expr) -> bool:
    name = test.attr if isinstance(test, ast.Attribute) else getattr(test, "id", None)
    return name == "TYPE_CHECKING"


def imported(name: str, path: Path, known: set[str]) -> set[str]:
    """What ``name`` imports, at the top or inside functions, as dotted names."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    targets: set[str] = set()
    for node in _executed(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            targets.add(base)
            targets.update(f"{base}.{alias.name}" for alias in node.names)
    return {t for t in targets if t in known}


def graph() -> dict[str, set[str]]:
    """Who imports whom.  Importing ``a.b.c`` runs ``a.b`` too, unless it encloses the importer."""
    found = modules()
    edges: dict[str, set[str]] = {}
    for name, path in found.items():
        parts = name.split(".")
        enclosing = {".".join(parts[:i]) for i in range(1, len(parts) + 1)}
        edges[name] = set()
        for target in imported(name, path, set(found)):
            pieces = target.split(".")
            for i in range(1, len(pieces) + 1):
                step = ".".join(pieces[:i])
                if step in found and step not in enclosing:
                    edges[name].add(step)
    return edges


def cycles(edges: dict[str, set[str]]) -> set[frozenset[str]]:
    """The strongly connected groups of more than one module (Tarjan's algorithm)."""
    order: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: set[frozenset[str]] = set()

    def visit(node: str) -> None:
        order[node] = low[node] = len(order)
        stack.append(node)
        for nxt in sorted(edges[node]):
            if nxt not in order:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], order[nxt])
        if low[node] == order[node]:
            group = {stack.pop()}
            while node not in group:
                group.add(stack.pop())
            if len(group) > 1:
                found.add(frozenset(group))

    for node in sorted(edges):
        if node not in order:
            visit(node)
    return found


def test_no_module_imports_another_in_a_circle() -> None:
    circles = sorted(sorted(group) for group in cycles(graph()))
    assert circles == [], f"modules that import one another in a circle: {circles}"


def test_the_checker_sees_lazy_imports_and_packages() -> None:
    edges = graph()
    assert f"{NAME}.recovery" in edges[f"{NAME}.store.orphans"]  # inside a function
    assert f"{NAME}.store" in edges[f"{NAME}.session"]  # from the package itself
    assert f"{NAME}.store" not in edges[f"{NAME}.store.root"]  # its own package
    assert f"{NAME}.faults" not in edges[f"{NAME}.store.writer"]  # for its types only
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == {frozenset("abc")}


@pytest.mark.parametrize("name", sorted(modules()))
def test_every_module_imports(name: str) -> None:
    importlib.import_module(name)
