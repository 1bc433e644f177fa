"""The nbgrader export, driven by the real nbgrader commands: generate_assignment, two students'
submissions, autograde; the engine's scores for the .py parts land in nbgrader's gradebook
beside a (tiny fixture) notebook's own grade cell, one total per student, and the students'
.py files are graded as submitted (not replaced by source/'s copies)."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from autograder.authoring import registry as asg
from autograder.instructor.examples import list_examples, materialize
from harness import kit_command
from kit_grades import reference_and_bug

# sandbox batches and platform tools: left out by `python3 kit.py test --fast`
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
A2 = asg.get("a2_window")
BIN = Path(sys.executable).parent
ENV = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")  # nbgrader runs `alembic`

FIXTURE = {"cells": [
    {"cell_type": "code", "id": "fx-sol", "execution_count": None, "outputs": [],
     "metadata": {"nbgrader": {"grade": False, "grade_id": "double", "locked": False,
                               "schema_version": 3, "solution": True, "task": False}},
     "source": "def double(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION"},
    {"cell_type": "code", "id": "fx-test", "execution_count": None, "outputs": [],
     "metadata": {"nbgrader": {"grade": True, "grade_id": "double_test", "locked": True,
                               "points": 1, "schema_version": 3, "solution": False, "task": False}},
     "source": "assert double(2) == 4"}],
    "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}},
    "nbformat": 4, "nbformat_minor": 5}


def nbgrader(*args, cwd: Path) -> str:
    r = subprocess.run([str(BIN / "nbgrader"), *args], cwd=cwd, env=ENV, capture_output=True,
                       text=True, timeout=900)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    return r.stdout + r.stderr


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    if not (BIN / "nbgrader").exists():
        pytest.skip(f"nbgrader is not installed in this venv ({BIN / 'nbgrader'} missing)")
    tmp = tmp_path_factory.mktemp("nbgrader")
    course = tmp / "course"
    kit_command("export", "nbgrader", "a2", course)
    src = course / "source" / "a2_window"
    # the real notebook's experiments take minutes to execute: its own test below checks the
    # release; the mechanism is proven here with a one-function fixture notebook
    real_nb = src / "a2_window.ipynb"
    had_real = real_nb.exists()
    if had_real:
        shutil.move(real_nb, tmp / "a2_window.ipynb")
    (src / "fixture.ipynb").write_text(json.dumps(FIXTURE))
    nbgrader("generate_assignment", "a2_window", "--force", cwd=course)
    release = course / "release" / "a2_window"

    bug = next(e for e in list_examples(A2) if e.name == "softmax_no_max")
    code = {"alice": A2.solution_dir, "bob": materialize(bug, A2, tmp / "bob-files")}
    for student, files in code.items():
        dest = course / "submitted" / student / "a2_window"
        shutil.copytree(release, dest)
        for f in A2.graded_files:
            shutil.copyfile(files / f, dest / f)
        if student == "alice":  # alice also answers the notebook; bob leaves it as released
            nb = json.loads((dest / "fixture.ipynb").read_text())
            cell = next(c for c in nb["cells"] if c["metadata"]["nbgrader"]["grade_id"] == "double")
            src_text = "".join(cell["source"])
            cell["source"] = src_text.replace("raise NotImplementedError()", "return 2 * x")
            assert cell["source"] != src_text
            (dest / "fixture.ipynb").write_text(json.dumps(nb))
    nbgrader("autograde", "a2_window", "--create", cwd=course)

    grades = reference_and_bug(tmp_path_factory)   # `grade` on the same files, as one run
    ours = {"alice": grades["reference"], "bob": grades[bug.name]}
    return course, code, ours, had_real, tmp


def scores(course: Path, student: str) -> dict:
    from nbgrader.api import Gradebook
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        sub = gb.find_submission("a2_window", student)
        return {"total": (sub.score, sub.max_score),
                **{nb.name: (nb.score, nb.max_score) for nb in sub.notebooks}}


def test_release_has_stubs_and_code_notebook(course):
    course_dir, *_ = course
    release = course_dir / "release" / "a2_window"
    for f in A2.graded_files:
        text = (release / f).read_text()
        assert "BEGIN SOLUTION" not in text and "NotImplementedError" in text, f
    assert (release / "lmkit_code.ipynb").exists() and (release / "lmcore").is_dir()
    assert not (release / "lmkit").exists() and "hidden.py" not in {p.name for p in release.rglob("*")}


@pytest.mark.parametrize("student", ["alice", "bob"])
def test_gradebook_holds_engine_scores_and_one_total(course, student):
    course_dir, code, ours, _, _ = course
    got = scores(course_dir, student)
    died = [t for t in ours[student]["tests"] if "the worker died" in t["output"]]
    engine = ours[student]["score"]
    if not died:  # a worker killed from outside (shared machine) is an engine event
        assert got["lmkit_code"][0] == pytest.approx(engine)
    assert got["lmkit_code"][1] == pytest.approx(ours[student]["extra_data"]["max_score"])
    fixture = 1.0 if student == "alice" else 0.0
    assert got["fixture"] == (fixture, 1.0)
    assert got["total"][0] == pytest.approx(got["lmkit_code"][0] + fixture)
    assert got["total"][1] == pytest.approx(got["lmkit_code"][1] + 1.0)
    if student == "bob":
        assert got["lmkit_code"][0] < got["lmkit_code"][1]


@pytest.mark.parametrize("student", ["alice", "bob"])
def test_students_py_files_are_not_overwritten(course, student):
    course_dir, code, *_ = course
    for f in A2.graded_files:
        graded = course_dir / "autograded" / student / "a2_window" / f
        assert graded.read_bytes() == (code[student] / f).read_bytes(), f


def test_real_notebook_releases_without_solutions(course):
    course_dir, _, _, had_real, tmp = course
    if not had_real:
        pytest.skip("solutions/a2_window/a2_window.ipynb is not written yet; the fixture "
                    "notebook above proves the mechanism")
    from autograder.instructor.stubs import clear_notebook
    released = clear_notebook((tmp / "a2_window.ipynb").read_text(), "a2_window.ipynb")
    assert "BEGIN SOLUTION" not in released
    assert json.loads((tmp / "a2_window.ipynb").read_text())["cells"]
