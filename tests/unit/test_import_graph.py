"""The package's import graph has no cycle, counting imports written inside functions.

An import inside a function hides a cycle from Python (it runs late) but not from a reader:
two modules that need each other are one module in two files. Every ``import`` statement in
``ftdata/`` counts here, wherever it is written (module level, function, method, ``if
TYPE_CHECKING``), relative or absolute.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "ftdata"


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


#: Stages in data-flow order; a module may import its own stage and the stages before it.
STAGE_ORDER = {"constants": -1, "errors": -1, "config": 0, "read": 1, "templating": 2,
               "tokenize": 3, "plan": 4, "write": 5, "build": 6, "inspect": 7, "consume": 7,
               "authoring": 8, "studio": 8, "cli": 9}

#: Imports against the data flow that are still there (module -> stage module). This list only
#: shrinks: each entry names a piece that belongs in a later stage (see docs/ARCHITECTURE.md).
KNOWN_UPWARD = {
    ("config.recipe", "read.hub"), ("config.recipe", "read.sources"),
    ("config.models", "templating.limits"), ("config.recipe", "templating.preflight"),
    ("config.recipe", "templating.selection"), ("config.recipe", "templating.templates"),
    ("config.recipe", "tokenize.tokenizer"),
    ("plan.contamination", "write.gather"), ("plan.finalize", "build.chunk"),
    ("plan.finalize", "write.gather"), ("plan.finalize", "write.writer"),
    ("plan.gate", "write.writer"), ("plan.worktable", "build.chunk"),
    ("tokenize.audit", "inspect.display"), ("tokenize.audit", "inspect.load"),
    ("tokenize.audit", "plan.worktable"), ("write.report", "inspect.load"),
}


def _stage(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def test_imports_follow_the_data_flow():
    upward = set()
    for mod, targets in import_graph().items():
        for t in targets:
            a, b = _stage(mod), _stage(t)
            if a in STAGE_ORDER and b in STAGE_ORDER and STAGE_ORDER[b] > STAGE_ORDER[a]:
                upward.add((mod.removeprefix("ftdata."), t.removeprefix("ftdata.")))
    new = sorted(upward - KNOWN_UPWARD)
    assert not new, ("imports against the data flow (a stage may import only earlier stages; "
                     "move the shared piece down): " + ", ".join(f"{a} -> {b}" for a, b in new))
    gone = sorted(KNOWN_UPWARD - upward)
    assert not gone, "no longer imported, remove from KNOWN_UPWARD: " + ", ".join(map(str, gone))
