"""Which tests an example's edits can reach, so that verify grades each example only on those.

An example is the reference with a one-line bug (examples.py). A test whose scenario never
calls an edited function, in a module whose top level is unchanged, runs exactly the
reference's code: it returns the reference's outputs and gets the reference's verdict. verify
therefore traces the reference once (the trusted worker records, per test, every function of
the graded package that the scenario called: ``(file, qualified name)``), compares each
example's files with the reference's function by function, grades the example on the tests
that reach a changed function, and gives it the reference's result for the others
(``SubmissionResult.assumed`` lists them). ``verify --all-tests`` grades everything instead.

What counts as changed, conservatively:
- a function or method whose definition differs: the tests that called it;
- anything else in a module (imports, constants, class bodies, decorators, default values, a
  function added or removed): the tests that imported the module at all;
- an example that is not plain edits of the reference (whole files, an archive, stubs as its
  base) or a hostile one: every test.
"""
from __future__ import annotations

import ast
import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from autograder.authoring.declare import Test
from autograder.authoring.registry import KIT_ROOT, Assignment
from autograder.engine import expected as expected_mod
from autograder.engine.judging import judge_run
from autograder.engine.records import TestResult, TestRun
from autograder.engine.wire import OutputError, read_outputs
from autograder.instructor.examples import Example, materialize

CACHE = KIT_ROOT / ".cache" / "reach"
MODULE = "<module>"   # the unit of a module's top level: the code that runs when it is imported

Unit = tuple[str, str]   # (file name, qualified name), as the worker's trace records them


@dataclass
class Traced:
    """One test of the reference: what its scenario returned and which functions it called."""
    outputs: Any
    reached: frozenset[Unit]


# -- the trace of the reference -------------------------------------------------------------
def trace_reference(a: Assignment, tests: list[Test]) -> dict[str, Traced]:
    """Every test's outputs and reached functions on the reference, from the cache when the
    reference, the scenarios and lmcore are unchanged (the same key as hidden expected
    outputs), else by one run of the trusted worker."""
    key = expected_mod.code_hash(a)
    found: dict[str, Traced] = {}
    todo: list[Test] = []
    for t in tests:
        folder = expected_mod.cached_folder(a, key, t, CACHE)
        try:
            reached = json.loads((folder / "reached.json").read_text())
            found[t.name] = Traced(read_outputs(folder), frozenset(tuple(u) for u in reached))
        except (OSError, ValueError, OutputError):
            todo.append(t)
    runs = expected_mod.reference_runs(a, todo, a.preload_for(todo), trace=True)
    for t, r in zip(todo, runs):
        found[t.name] = Traced(r.outputs, frozenset(r.reached or ()))
        expected_mod.store(r.outputs, expected_mod.cached_folder(a, key, t, CACHE),
                           {"reached.json": json.dumps(sorted(found[t.name].reached))})
    return found


# -- what an example changed ----------------------------------------------------------------
def changed_units(file: str, before: str, after: str) -> set[Unit]:
    """The units of one module that differ between two versions of its source: the functions
    whose definitions differ, and ``(file, "<module>")`` when anything outside function bodies
    differs. Source that does not parse counts as a change of the whole module."""
    if before == after:
        return set()
    try:
        old, new = ast.parse(before), ast.parse(after)
    except SyntaxError:
        return {(file, MODULE)}
    units: set[Unit] = set()
    if ast.dump(_skeleton(old)) != ast.dump(_skeleton(new)):
        units.add((file, MODULE))
    old_defs, new_defs = _definitions(old), _definitions(new)
    for name in old_defs.keys() | new_defs.keys():
        if old_defs.get(name) != new_defs.get(name):
            units.add((file, name))
    return units


def _function_defs(tree: ast.AST, prefix: str = ""):
    """(qualified name, node) of every function defined at module or class level, as Python
    names their code objects (``f``, ``Cls.method``, ``Outer.Inner.method``); functions nested
    in functions belong to the outer one."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield prefix + node.name, node
        elif isinstance(node, ast.ClassDef):
            yield from _function_defs(node, prefix + node.name + ".")
        elif not isinstance(node, ast.expr):   # if/try/with blocks at module or class level
            yield from _function_defs(node, prefix)


def _definitions(tree: ast.Module) -> dict[str, list[str]]:
    defs: dict[str, list[str]] = {}
    for name, node in _function_defs(tree):
        defs.setdefault(name, []).append(ast.dump(node))   # a property's getter and setter
    return defs


def _skeleton(tree: ast.Module) -> ast.Module:
    """The module with every function body replaced by ``pass``: what runs at import time
    (decorators, default values and class bodies included)."""
    tree = ast.parse(ast.unparse(tree))   # a copy
    for _, node in _function_defs(tree):
        node.body = [ast.Pass()]
    return tree


def example_units(ex: Example, a: Assignment) -> set[Unit] | None:
    """What the example changed relative to the reference; None when that cannot be said
    from edits (every test must then run)."""
    m = ex.manifest
    if (ex.name.startswith("hostile/") or m.get("base", "solution") != "solution"
            or m.get("files") or m.get("archive")):
        return None
    with tempfile.TemporaryDirectory(prefix="lmkit-ex-") as tmp:
        dest = materialize(ex, a, Path(tmp))
        units: set[Unit] = set()
        for f in a.graded_files:
            units |= changed_units(f, (a.solution_dir / f).read_text(), (dest / f).read_text())
    return units


def tests_reached(units: set[Unit], traced: dict[str, Traced]) -> set[str]:
    return {name for name, tr in traced.items() if units & tr.reached}


# -- verify's plan --------------------------------------------------------------------------
def reference_results(tests: list[Test], traced: dict[str, Traced],
                      expected: dict[str, Any]) -> dict[str, TestResult]:
    """The reference's verdict on every test, judged from its traced outputs as any
    submission's are."""
    return {t.name: judge_run(t, TestRun(t.name, "ok", outputs=traced[t.name].outputs),
                              expected.get(t.name))
            for t in tests}


def assumed_results(a: Assignment, examples: list[Example], tests: list[Test],
                    traced: dict[str, Traced], expected: dict[str, Any]
                    ) -> dict[str, dict[str, TestResult]]:
    """Submission id -> the reference's results for the tests the example cannot reach (the
    ``Grader.assumed`` of verify's batch); examples that must run everything are left out."""
    ref = reference_results(tests, traced, expected)
    plan: dict[str, dict[str, TestResult]] = {}
    for ex in examples:
        units = example_units(ex, a)
        if units is None:
            continue
        run = tests_reached(units, traced)
        plan[ex.submission_id] = {t.name: ref[t.name] for t in tests
                                            if t.name not in run}
    return plan
