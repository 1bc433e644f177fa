"""The house's rules, checked: no import cycle in the kit, the release boundary is a folder,
and the engine's modules stay small enough to read top to bottom."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "autograder"


def module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def kit_modules() -> dict[str, Path]:
    return {module_name(p): p for p in PKG.rglob("*.py") if "suites" not in p.parts}


def imports_of(path: Path, known: set[str], top_level_only: bool = False) -> set[str]:
    """The kit modules ``path`` imports (``from a.b import c`` counts a.b.c when it is a
    module, else a.b); with ``top_level_only``, imports inside functions are left out."""
    tree = ast.parse(path.read_text())
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    found = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [f"{node.module}.{a.name}" for a in node.names] + [node.module]
        else:
            continue
        for n in names:
            while n and n not in known:
                n = n.rpartition(".")[0]
            if n:
                found.add(n)
    return found - {module_name(path)}


def import_graph(top_level_only: bool) -> dict[str, set[str]]:
    mods = kit_modules()
    known = set(mods)
    graph = {m: imports_of(p, known, top_level_only) for m, p in mods.items()}
    for m in graph:   # importing a.b.c runs a/__init__ and a/b/__init__ first
        graph[m] = {x for x in graph[m] if not m.startswith(x + ".")}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(n):
        state[n] = 1
        stack.append(n)
        for m in sorted(graph.get(n, ())):
            if state.get(m) == 1:
                return stack[stack.index(m):] + [m]
            if m not in state:
                found = visit(m)
                if found:
                    return found
        state[n] = 2
        stack.pop()
        return None

    for n in sorted(graph):
        if n not in state:
            found = visit(n)
            if found:
                return found
    return None


@pytest.mark.parametrize("top_level_only", [True, False], ids=["module-level", "all-imports"])
def test_no_import_cycle(top_level_only):
    graph = import_graph(top_level_only)
    assert len(graph) > 30, "the graph should cover the whole kit"
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_find_cycle_finds_one():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_nothing_that_ships_imports_the_instructor_tools():
    """The release leaves autograder/instructor/ out whole; the engine, the student commands,
    the reporters and the suite API must work without it."""
    graph = import_graph(top_level_only=False)
    for m, deps in graph.items():
        if m.startswith("autograder.instructor") or m == "autograder.cli":
            continue   # the CLI imports an instructor command only when it is run
        bad = sorted(d for d in deps if d.startswith("autograder.instructor"))
        assert not bad, f"{m} imports {bad}, which a student release does not hold"


def test_library_code_never_drives_the_cli():
    graph = import_graph(top_level_only=False)
    callers = sorted(m for m, deps in graph.items() if "autograder.cli" in deps
                     and m != "autograder.__main__")
    assert callers == [], f"{callers} import the CLI; call the library functions instead"


@pytest.mark.parametrize("path", sorted((PKG / "engine").glob("*.py")), ids=lambda p: p.name)
def test_engine_modules_read_top_to_bottom(path):
    assert len(path.read_text().splitlines()) <= 420, f"{path.name}: split it by stage"


def test_every_error_the_cli_names_is_a_kit_error():
    """The CLI prints a KitError in one line; every error class of the kit is one."""
    from autograder.errors import KitError

    classes = []
    for path in PKG.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef) and node.name.endswith(("Error", "Refused", "Leak",
                                                                      "Failed", "Assignment")):
                classes.append((module_name(path), node.name))
    import importlib
    assert len(classes) >= 8
    for mod, name in classes:
        cls = getattr(importlib.import_module(mod), name)
        if not issubclass(cls, BaseException) or name == "OutputError":
            continue   # a record (Leak), or the worker's bad output: a test result, not a failure
        assert issubclass(cls, KitError), f"{mod}.{name} is not a KitError"
