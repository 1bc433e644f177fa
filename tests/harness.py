"""In-process grading for the kit's own tests: the engine's pieces without the sandbox.

``python -m autograder verify`` (tests/test_verify.py) proves that every example gets exactly
its manifest's points through the real sandboxed worker; that takes minutes. The assignment
tests only need to ask "does this example fail *this* test, and does its feedback name the
bug?", for one or two tests at a time. This harness answers that in milliseconds with the
engine's own steps, in order:

  examples.materialize -> intake.load_submission -> staging.stage  (what a student submitted)
  runners.InProcessRunner  (the worker's run_scenario: seeding, lazy ``sub.<module>``,
                            outputs written as files and read back, errors)
  judging.judge_run                                              (what the parent decides)

What it leaves out is what needs a process of its own: no fork, no resource limits, no
timeout, no tamper snapshot. Hostile examples belong to ``verify``, not here.

The reference and a submission take turns under the assignment's own package name in this
process (InProcessRunner puts whatever was imported under that name back afterwards).

It also holds what several test files share: ``verify`` run once per assignment for the two
files that read it (``verified``); and, for the batch and export tests, tests picked by name, a
batch of submissions made of the reference and named examples, and a kit command run as an
instructor runs it (or Ctrl-C'd part way).
"""
from __future__ import annotations

import functools
import importlib.util
import io
import json
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from rich.console import Console

from autograder.authoring import registry
from autograder.authoring.registry import Assignment
from autograder.instructor.examples import list_examples, materialize
from autograder.engine.judging import judge_run
from autograder.engine.records import SubmissionResult, TestResult
from autograder.engine import expected as expected_mod
from autograder.engine.intake import load_submission
from autograder.engine.staging import stage
from autograder.authoring.declare import Test, load_tests
from autograder.instructor.verify import TOL, verify_assignment
from autograder.engine.runners import InProcessRunner
from autograder.engine.worker import LazyPackage

ROOT = Path(__file__).resolve().parents[1]

# (assignment, test spec) -> the reference's outputs; the reference does not change in a run
_EXPECTED: dict[tuple[str, str], Any] = {}


def load_package(folder: Path, alias: str) -> LazyPackage:
    """Import ``folder`` (a copy of an assignment package) as the package ``alias`` and return
    it the way scenarios see a submission: ``sub.layers`` imports ``alias.layers`` lazily."""
    if alias not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            alias, folder / "__init__.py", submodule_search_locations=[str(folder)])
        module = importlib.util.module_from_spec(spec)
        sys.modules[alias] = module
        spec.loader.exec_module(module)
    return LazyPackage(alias)


def tests_named(assignment: Assignment, names: list[str]) -> list[Test]:
    """The assignment's tests (public and hidden) called ``names``, in that order."""
    by_name = {t.name: t for t in load_tests(assignment.name)}
    unknown = [n for n in names if n not in by_name]
    if unknown:
        raise KeyError(f"{assignment.name} has no tests {unknown}; it has {sorted(by_name)}")
    return [by_name[n] for n in names]


def submissions(assignment: Assignment, dest: Path, n: int, examples: list[str]) -> list[Path]:
    """n submission folders ``dest/student0`` ...: copies of the reference's graded files, then
    the named examples (one each, in order) as the last len(examples)."""
    paths = []
    for i in range(n - len(examples)):
        d = dest / f"student{i}"
        d.mkdir(parents=True)
        for f in assignment.graded_files:
            (d / f).write_bytes((assignment.solution_dir / f).read_bytes())
        paths.append(d)
    by_name = {e.name: e for e in list_examples(assignment)}
    for i, name in enumerate(examples, start=n - len(examples)):
        paths.append(materialize(by_name[name], assignment, dest / f"student{i}"))
    return paths


def interrupted(cmd: list[str], env: dict[str, str], ready,
                hung_after: float = 900.0) -> tuple[subprocess.Popen, str]:
    """Start ``cmd`` in the kit's root and send it SIGINT (Ctrl-C) once ``ready()`` is true; it
    must still be running then. Returns the finished process and everything it printed.
    ``hung_after``: a guard against a hang, not a speed bound (far above any run's time)."""
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        give_up = time.monotonic() + hung_after
        while not ready():
            assert proc.poll() is None, proc.stdout.read()
            assert time.monotonic() < give_up, f"{cmd}: nothing to interrupt after {hung_after:g} s (hung?)"
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        text, _ = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
    return proc, text


def kit_command(*args) -> str:
    """``python -m autograder ARGS`` from the kit's root, as an instructor runs it: what it
    printed, or the test fails with that output."""
    r = subprocess.run([sys.executable, "-m", "autograder", *map(str, args)], cwd=ROOT,
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout + r.stderr


def expected_outputs(assignment: Assignment, tests: list[Test], tmp: Path) -> dict[str, Any]:
    """The reference's outputs for ``tests`` (None where a test needs none), as the grader has
    them: public tests' from the committed data (verify proves it current), hidden tests'
    computed once and cached."""
    key = lambda t: (assignment.name, json.dumps(t.spec(), sort_keys=True))  # noqa: E731
    todo = [t for t in tests if t.needs_reference and key(t) not in _EXPECTED]
    if todo:
        got = expected_mod.load(assignment, todo, preload=assignment.preload_for(todo))
        for t in todo:
            _EXPECTED[key(t)] = got[t.name]
    return {t.name: _EXPECTED[key(t)] if t.needs_reference else None for t in tests}


def grade(assignment: Assignment, path: Path, test_names: list[str],
          tmp: Path) -> dict[str, TestResult]:
    """Grade the submission at ``path`` (a folder or zip, as ``grade`` reads it) on the named
    tests: test name -> the TestResult the engine would report (score, kind, feedback)."""
    tests = tests_named(assignment, test_names)
    sub = load_submission(path, assignment)
    if sub.fatal:
        raise AssertionError(f"{path}: not gradable: {sub.fatal}")
    stage_dir = stage(sub, assignment, Path(tempfile.mkdtemp(dir=tmp, prefix="stage-")))
    expected = expected_outputs(assignment, tests, tmp)
    runs = InProcessRunner(assignment.name).run(stage_dir, tests).runs
    return {t.name: judge_run(t, r, expected[t.name]) for t, r in zip(tests, runs)}


def grade_example(assignment: Assignment, example: str, test_names: list[str],
                  tmp: Path) -> dict[str, TestResult]:
    """Grade examples/<assignment>/<example> on the named tests."""
    by_name = {e.name: e for e in list_examples(assignment)}
    if example not in by_name:
        raise KeyError(f"no example {example!r} for {assignment.name}; have {sorted(by_name)}")
    path = materialize(by_name[example], assignment,
                       Path(tempfile.mkdtemp(dir=tmp, prefix=f"{example}-")))
    return grade(assignment, path, test_names, tmp)


def assert_hint(assignment: Assignment, example: str, test_name: str, phrase: str,
                tmp: Path) -> TestResult:
    """The example fails ``test_name`` by the points its manifest says, and the feedback a
    student would read names the bug with ``phrase``."""
    result = grade_example(assignment, example, [test_name], tmp)[test_name]
    manifest = {e.name: e for e in list_examples(assignment)}[example]
    want = manifest.expected_score(test_name, result.max_score)
    assert want < result.max_score, (
        f"{example}: its manifest expects full marks on {test_name}, so the test cannot show "
        f"its hint; point the hint at a test the example fails")
    assert abs(result.score - want) <= TOL, (   # results round scores to 6 decimals
        f"{example}: {test_name} scored {result.score}, the manifest says {want} "
        f"({result.kind}): {result.feedback[:600]}")
    assert phrase in result.feedback, (
        f"{example}: the feedback of {test_name} should name the bug with {phrase!r}; it said: "
        f"{result.feedback[:600]}")
    return result


def assert_nbgrader_source(path: Path, manual_answers: int, solution_snippet: str) -> None:
    """``path`` is a valid nbgrader source notebook: every cell carries schema-3 metadata with a
    unique grade_id, ``manual_answers`` manually graded markdown answers with points, no stored
    outputs, and nbgrader's ClearSolutions removes the solution (``solution_snippet`` gone,
    stubs and answer placeholders in its place)."""
    import copy

    import nbformat
    from nbgrader.nbgraderformat import MetadataValidator
    from nbgrader.preprocessors import ClearSolutions

    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    MetadataValidator().validate_nb(nb)
    cells = [c for c in nb.cells if "nbgrader" in c.metadata]
    assert len(cells) == len(nb.cells), "every cell carries nbgrader metadata"
    assert all(c.metadata.nbgrader["schema_version"] == 3 for c in cells)
    manual = [c for c in cells if c.metadata.nbgrader["grade"] and c.cell_type == "markdown"]
    assert len(manual) == manual_answers and all(c.metadata.nbgrader["points"] > 0 for c in manual)
    ids = [c.metadata.nbgrader["grade_id"] for c in cells]
    assert len(set(ids)) == len(ids)
    released, _ = ClearSolutions().preprocess(copy.deepcopy(nb), {})
    text = "\n".join(c.source for c in released.cells)
    assert "BEGIN SOLUTION" not in text and solution_snippet not in text
    assert "YOUR ANSWER HERE" in text and "NotImplementedError" in text
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code")


def run_notebook(path: Path, *, replace: dict[str, str] | None = None, append: str = "",
                 source: str | None = None, timeout: int = 600) -> str:
    """Execute the notebook at ``path`` (in its own folder) with its ``parameters`` cell edited:
    each ``replace`` key must occur in it (a changed notebook fails loudly rather than running
    at full budget), ``append`` is added, or ``source`` replaces the cell. Returns everything
    the code cells printed."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    params = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(params) == 1, f"{path.name}: expected one cell tagged 'parameters'"
    cell = params[0]
    if source is not None:
        cell.source = source
    for old, new in (replace or {}).items():
        assert old in cell.source, f"{path.name}: the parameters cell no longer has {old!r}"
        cell.source = cell.source.replace(old, new)
    cell.source += append
    NotebookClient(nb, timeout=timeout, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    return "".join(o.get("text", "") or o.get("data", {}).get("text/plain", "")
                   for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))


def assert_checks_pass(out: str, assignment: Assignment) -> None:
    """The notebook's section 0 checked every graded file of the reference, all passing."""
    import re
    totals = re.findall(r"Total: ([\d.]+) / ([\d.]+) on the public tests", out)
    assert len(totals) >= len(assignment.graded_files), f"check() cells printed {totals}"
    assert all(a == b for a, b in totals), f"the reference failed a check() cell: {totals}"


@functools.lru_cache(maxsize=None)
def verified(name: str) -> tuple[bool, str, dict[str, SubmissionResult]]:
    """``verify`` of one assignment, run once per test process (its hostile examples left to
    test_hostile.py): (passed, what it printed, each submission's result by "reference",
    "stubs" and example name). tests/test_verify.py asserts on it and tests/test_feedback.py
    reads the examples' feedback from it: one sandboxed grading of the examples serves both
    (conftest.py keeps an assignment's tests of both files in one process)."""
    buf = io.StringIO()
    console = Console(file=buf, width=160, force_terminal=False)
    results: dict[str, SubmissionResult] = {}
    ok = verify_assignment(registry.get(name), console, jobs=2, hostile=False,
                           results_into=results)
    return ok, buf.getvalue(), results


# The assignments whose ``test_verify`` this test process runs (set by conftest.py once the
# session's tests are collected and selected): their examples' feedback is read from verify's
# grading instead of being graded a second time.
VERIFIED_HERE: set[str] = set()


def failing_feedback(assignment: Assignment, tmp: Path) -> dict[str, dict[str, TestResult]]:
    """Every example of ``assignment`` but the hostile ones, graded on the tests it fails:
    example -> test name -> TestResult (only the tests it did not pass). Where this process
    runs ``verify`` of the assignment anyway (the full suite), its sandboxed grading is read,
    public and hidden tests (those the example's edits reach; the rest are the reference's
    and pass); elsewhere (``kit.py test --fast``, the file alone) each example is graded
    in-process on the public and hidden tests its manifest says it fails."""
    if assignment.name in VERIFIED_HERE:
        _, _, results = verified(assignment.name)
        return {name: {t.name: t for t in res.tests if not t.passed}
                for name, res in results.items()
                if name not in ("reference", "stubs") and not name.startswith("hostile/")}
    tests = {t.name: t for t in load_tests(assignment.name)}
    failing = {ex.name: [n for n, t in tests.items()
                         if ex.expected_score(n, t.points) < t.points - TOL]
               for ex in list_examples(assignment) if not ex.name.startswith("hostile/")}
    # the reference's outputs of every test some example fails, in one run of the reference
    # (one worker's start, torch's import included) rather than one run per example
    expected_outputs(assignment, [tests[n] for n in dict.fromkeys(
        n for names in failing.values() for n in names)], tmp)
    out = {}
    for name, names in failing.items():
        res = grade_example(assignment, name, names, tmp) if names else {}
        out[name] = {k: r for k, r in res.items() if not r.passed}
    return out


def hint_lines(results: dict[str, TestResult]) -> list[str]:
    """The hints a student reads in these results, one per line as the judges wrote them."""
    return [line[len("Hint: "):] for r in results.values() for line in r.feedback.splitlines()
            if line.startswith("Hint: ")]
