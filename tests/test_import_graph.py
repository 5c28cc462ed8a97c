"""The package's import graph has no cycle, counting imports written inside functions.

An import inside a function hides a cycle from Python (it runs late) but not from a reader:
two modules that need each other are one module in two files. Every ``import`` statement in
``ftdata/`` counts here, wherever it is written (module level, function, method, ``if
TYPE_CHECKING``), relative or absolute.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "ftdata"


def module_name(path: Path) -> str:
    """``ftdata/plan/split.py`` -> ``ftdata.plan.split``; a package's ``__init__`` is the package."""
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _resolve(importer: str, is_package: bool, node: ast.ImportFrom) -> str:
    """The absolute module an ``ImportFrom`` reads from."""
    if not node.level:
        return node.module or ""
    base = importer.split(".")
    # a package's own relative imports start from itself, a module's from its package
    base = base if is_package else base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def import_graph() -> dict[str, set[str]]:
    """Module -> the ftdata modules it imports anywhere in its file.

    ``from pkg import name`` counts as an import of ``pkg.name`` when that is a module, else of
    ``pkg``. Importing ``a.b.c`` also runs the ``__init__`` of ``a.b``; those edges are left out
    because the subpackages' ``__init__`` files import nothing from their children.
    """
    files = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}
    graph: dict[str, set[str]] = {m: set() for m in files}
    for mod, path in files.items():
        is_package = path.name == "__init__.py"
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = _resolve(mod, is_package, node)
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in files else base
                           for a in node.names]
            for t in targets:
                while t and t not in files:  # `import ftdata.x.y.Name` style leftovers
                    t = t.rpartition(".")[0]
                if t and t.startswith("ftdata") and t != mod:
                    graph[mod].add(t)
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle as ``[a, b, ..., a]``, or None when the graph is acyclic."""
    state: dict[str, int] = {}  # 1: on the current path, 2: finished
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state:
            found = visit(start)
            if found:
                return found
    return None


def test_find_cycle_names_the_cycle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert find_cycle(graph) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_function_level_imports_count(tmp_path):
    src = "def f():\n    from .b import g\n    return g\n"
    node = ast.parse(src).body[0].body[0]
    assert _resolve("ftdata.plan.a", False, node) == "ftdata.plan.b"
    assert _resolve("ftdata.plan", True, ast.parse("from .b import g").body[0]) == "ftdata.plan.b"
    assert _resolve("ftdata.plan.a", False, ast.parse("from ..config import r").body[0]) == "ftdata.config"


def test_package_has_no_import_cycle():
    graph = import_graph()
    assert len(graph) > 40, "the package was not found"
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)
