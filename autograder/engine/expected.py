"""Reference outputs: what every student output is judged against.

Public tests' expected outputs are committed as data under ``suites/<a>/expected/`` (made by
``python -m autograder expected aN``) so a student can check without the reference. Hidden
tests' are computed from ``solutions/`` at grading time, by the same worker code run without
a sandbox (the reference is trusted), and cached under ``.cache/expected/`` keyed by a hash of
the reference, the scenarios, lmcore and the test's spec, so a changed reference is never
served stale.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from autograder.authoring.declare import Test
from autograder.authoring.registry import KIT_ROOT, Assignment
from autograder.engine.judging import MISSING_EXPECTED
from autograder.engine.records import TestRun
from autograder.engine.runners import ReferenceRunner
from autograder.engine.staging import reference_submission, stage
from autograder.engine.wire import OutputError, read_outputs, write_outputs
from autograder.errors import KitError

CACHE = KIT_ROOT / ".cache" / "expected"


class ReferenceFailed(KitError):
    pass


def folder_name(test: Test) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in test.name)


def public_dir(assignment: Assignment) -> Path:
    return assignment.suite_dir / "expected"


def code_hash(assignment: Assignment) -> str:
    h = hashlib.sha256()
    # everything a scenario's outputs can depend on: the reference, the scenarios (a module or a
    # package), the fixtures that suites share, and lmcore
    files = sorted(assignment.solution_dir.glob("*.py"))
    files += sorted(assignment.suite_dir.glob("scenarios.py"))
    files += sorted(assignment.suite_dir.glob("scenarios/*.py"))
    files += sorted((KIT_ROOT / "autograder" / "authoring").glob("fixtures.py"))
    files += sorted((KIT_ROOT / "lmcore").glob("*.py"))
    for f in files:
        h.update(f.relative_to(KIT_ROOT).as_posix().encode() + b"\0" + f.read_bytes())
    return h.hexdigest()[:16]


def spec_hash(test: Test) -> str:
    """The hash of what the reference runs for ``test`` (an oracle test's own spec)."""
    spec = test.for_reference().spec()
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:16]


def cached_folder(assignment: Assignment, key: str, test: Test, root: Path = CACHE) -> Path:
    """Where ``test``'s reference outputs for the code of hash ``key`` are cached under
    ``root`` (CACHE; verify's reach keeps its traces beside them in a root of its own)."""
    return root / assignment.name / key / f"{folder_name(test)}-{spec_hash(test)}"


def run_reference(assignment: Assignment, tests: list[Test], preload=("numpy",)) -> dict[str, Any]:
    """Run the reference on ``tests``; raise ReferenceFailed naming any test it cannot pass."""
    return {r.name: r.outputs for r in reference_runs(assignment, tests, preload)}


def reference_runs(assignment: Assignment, tests: list[Test], preload=("numpy",),
                   trace: bool = False) -> list[TestRun]:
    """The reference's runs of ``tests`` (``trace``: with the functions each one called, for
    verify's reach); ReferenceFailed names the first test it cannot pass. Oracle tests run as
    ``Test.for_reference`` says, with what their second implementation needs preloaded."""
    if not tests:
        return []
    tests = [t.for_reference() for t in tests]
    preload = (*preload, *(m for m in assignment.preload_for(tests, reference=True)
                           if m not in preload))
    with tempfile.TemporaryDirectory(prefix="lmkit-ref-") as tmp:
        st = stage(reference_submission(assignment), assignment, Path(tmp),
                   base=assignment.solution_dir)
        runs = ReferenceRunner(assignment.name, tuple(preload), warm=assignment.warm_for(tests),
                               trace=trace).run(st, tests).runs
    bad = [r for r in runs if r.status != "ok"]
    if bad:
        r = bad[0]
        why = r.detail or (r.error or {}).get("message", "")
        raise ReferenceFailed(f"the reference solution fails test {r.name} of {assignment.name} "
                              f"({r.status}: {why}); fix solutions/{assignment.name} or the "
                              f"scenario in autograder/suites/{assignment.name}/scenarios.py")
    return runs


def load(assignment: Assignment, tests: list[Test], preload=("numpy",),
         allow_compute: bool = True, known: dict[str, Any] | None = None) -> dict[str, Any]:
    """Expected outputs for ``tests`` (MISSING_EXPECTED where none can be had). ``known``:
    outputs of the reference from a run already made, taken for the hidden tests that would
    otherwise be computed (and cached like them)."""
    known = known or {}
    expected: dict[str, Any] = {}
    todo: list[Test] = []
    index_file = public_dir(assignment) / "index.json"
    index = json.loads(index_file.read_text()) if index_file.exists() else {}
    have_reference = assignment.solution_dir.is_dir()
    key = code_hash(assignment) if have_reference else ""
    for t in tests:
        if not t.needs_reference:
            expected[t.name] = None
            continue
        if t.visibility == "public" and index.get(t.name, {}).get("spec") == spec_hash(t):
            try:
                expected[t.name] = read_outputs(public_dir(assignment) / folder_name(t))
                continue
            except OutputError:
                pass
        if t.visibility == "hidden" and have_reference:
            cached = cached_folder(assignment, key, t)
            if (cached / "outputs.json").exists():
                expected[t.name] = read_outputs(cached)
                continue
        if have_reference and allow_compute:
            todo.append(t)
        else:
            expected[t.name] = MISSING_EXPECTED
    if todo:
        outputs = {t.name: known[t.name] for t in todo if t.name in known}
        outputs.update(run_reference(assignment, [t for t in todo if t.name not in known],
                                     preload))
        for t in todo:
            expected[t.name] = outputs[t.name]
            if t.visibility == "hidden":
                store(outputs[t.name],
                       cached_folder(assignment, key, t))
    return expected


def store(outputs: Any, cached: Path, extra: dict[str, str] | None = None) -> None:
    """Write ``outputs`` to ``cached`` whole or not at all: built in a folder of its own and
    renamed, so two graders filling the cache at once (parallel test workers, a grade beside a
    verify) never read or write each other's half-written files."""
    import shutil
    cached.parent.mkdir(parents=True, exist_ok=True)
    build = Path(tempfile.mkdtemp(dir=cached.parent, prefix=f".{cached.name}-"))
    try:
        build.chmod(0o755)   # as a folder made with mkdir would be (mkdtemp's is 0700)
        write_outputs(outputs, build)
        for name, text in (extra or {}).items():   # what else belongs with them (reach's trace)
            (build / name).write_text(text)
        try:
            os.rename(build, cached)
        except OSError:   # another grader stored the same outputs first
            pass
    finally:
        shutil.rmtree(build, ignore_errors=True)
