"""One `python -m autograder grade` of a2's reference and its softmax_no_max example (the full
suite), shared by the export tests (gradescope, otter, nbgrader): each compares what its
platform reports for those files with what `grade` gives them, and `grade` gives the same
results however many tests ask. Graded once per test session: the first test process to ask
grades, under a file lock; the others (xdist workers) wait for it and read its results.json
files. Nothing is kept from one session to the next.
"""
from __future__ import annotations

import fcntl
import json
import os
import shutil
from pathlib import Path

import pytest

from autograder.authoring import registry as asg
from autograder.instructor.examples import list_examples, materialize
from harness import kit_command

A2 = asg.get("a2_window")
BUG = "softmax_no_max"


def _session_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder of this session that every xdist worker sees (their basetemps' parent, a
    fresh pytest-N per session), or this process's basetemp without xdist."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


def reference_and_bug(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    """``{"reference": doc, "softmax_no_max": doc}``: the results.json that `grade -j 1`
    writes for A2.solution_dir and for the example (materialized under the same name)."""
    session = _session_dir(tmp_path_factory)
    root = session / "a2-grade-reference-and-bug"
    out, done = root / "grades", root / "done"
    with open(session / "a2-grade-reference-and-bug.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)            # released when the file closes
        if not done.exists():
            shutil.rmtree(root, ignore_errors=True)  # what a failed attempt left
            bug = next(e for e in list_examples(A2) if e.name == BUG)
            folder = materialize(bug, A2, root / "subs" / BUG)
            kit_command("grade", folder, A2.solution_dir, "-a", "a2", "-j", "1", "--out", out)
            done.touch()
    return {"reference": json.loads((out / A2.solution_dir.name / "results.json").read_text()),
            BUG: json.loads((out / BUG / "results.json").read_text())}
