"""nbgrader: a course directory whose autograde also runs this kit's engine on the .py parts.

``export_nbgrader(a, COURSE)`` writes ``COURSE/nbgrader_config.py``, the kit under
``COURSE/lmkit/`` (instructors only: never inside source/ or release/) and
``COURSE/source/<a>/`` with the stub modules (nbgrader does not strip markers from .py files,
so the stubs, never the solutions, go there), ``lmcore/``, the assignment's notebook from
``solutions/<a>/<a>.ipynb`` when there is one, and ``lmkit_code.ipynb``: one locked nbgrader
grade cell per graded part. At autograde time its first cell grades the student's .py files
with the sandboxed engine (a fresh ``python -I``, workers isolated as in ``grade``) and each
part's cell evaluates to the points the engine gave, which nbgrader records as partial credit
(its documented rule for a grade cell whose output is a number). The gradebook thus holds one
total per student: the notebook's own cells plus the code parts.

``Autograde.exclude_overwriting`` keeps the students' .py files: by default nbgrader replaces
every file of the source folder with the instructor's copy before grading.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

from autograder.authoring.registry import Assignment
from autograder.instructor.export.bundle import _ignore, bundle_kit

CODE_NOTEBOOK = "lmkit_code.ipynb"

CONFIG = '''\
"""nbgrader configuration written by `python -m autograder export nbgrader` (edit freely)."""
import os

c = get_config()  # noqa: F821  (nbgrader provides it)
c.CourseDirectory.root = os.path.dirname(os.path.abspath(__file__))
c.CourseDirectory.course_id = "lmkit"
# keep each student's graded .py files: nbgrader would replace them with source/'s copies
c.Autograde.exclude_overwriting = {exclude}
# the code notebook runs the whole lmkit suite in one cell
c.Execute.timeout = 1200
'''

SETUP_CELL = '''\
# Graded by the lmkit engine when your instructor autogrades; there is nothing to run here.
# To test your code yourself: python -m autograder check {short}
import os as _os, pathlib as _pathlib, sys as _sys
_kit = _os.environ.get("LMKIT_KIT") or next(
    (str(p / "lmkit") for p in _pathlib.Path.cwd().resolve().parents
     if (p / "lmkit" / "autograder" / "instructor" / "export" / "nbgrader_bridge.py").is_file()), None)
if _kit is None:
    lmkit = None
    print("lmkit's grader is not here: these cells are scored when your instructor autogrades.")
else:
    _sys.path.insert(0, _kit)
    from autograder.instructor.export import nbgrader_bridge as lmkit
    print(lmkit.grade({name!r}))
'''


def _cell(kind: str, source: str, meta: dict | None, cell_id: str) -> dict:
    cell = {"cell_type": kind, "id": cell_id, "metadata": {}, "source": source}
    if meta is not None:
        cell["metadata"]["nbgrader"] = dict(meta, schema_version=3)
    if kind == "code":
        cell.update(execution_count=None, outputs=[])
    return cell


def code_notebook(a: Assignment, parts: dict[str, float]) -> dict:
    locked = {"grade": False, "locked": True, "solution": False, "task": False}
    cells = [
        _cell("markdown", f"# {a.title}: your code\n\nThe cells below are filled in by the "
              f"autograder, which runs the public and hidden tests on your "
              f"{', '.join(a.graded_files)}. Do not edit this notebook.",
              dict(locked, grade_id="lmkit_intro"), "lmkit-intro"),
        _cell("code", SETUP_CELL.format(name=a.name, short=a.short),
              dict(locked, grade_id="lmkit_setup"), "lmkit-setup"),
    ]
    for i, (part, points) in enumerate(parts.items()):
        cells.append(_cell("code", f"lmkit.part({part!r}) if lmkit else 0",
                           {"grade": True, "grade_id": f"lmkit_{_safe(part)}", "locked": True,
                            "points": points, "solution": False, "task": False},
                           f"lmkit-part-{i}"))
    return {"cells": cells, "metadata": {"kernelspec": {"display_name": "Python 3",
                                                        "language": "python", "name": "python3"},
                                         "language_info": {"name": "python"}},
            "nbformat": 4, "nbformat_minor": 5}


def _safe(s: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in s)


def export_nbgrader(a: Assignment, course: Path) -> Path:
    from autograder.authoring.declare import load_tests

    course.mkdir(parents=True, exist_ok=True)
    kit = course / "lmkit"
    if kit.exists():
        shutil.rmtree(kit)
    bundle_kit(a, kit)
    src = course / "source" / a.name
    src.mkdir(parents=True, exist_ok=True)
    for f in sorted((kit / "assignments" / a.name).glob("*.py")):
        shutil.copyfile(f, src / f.name)
    if (src / "lmcore").exists():
        shutil.rmtree(src / "lmcore")
    shutil.copytree(kit / "lmcore", src / "lmcore", ignore=_ignore)
    nb = a.solution_dir / f"{a.name}.ipynb"
    if nb.is_file():
        shutil.copyfile(nb, src / nb.name)
    parts: dict[str, float] = {}
    for t in load_tests(a.name, include_hidden=True):
        parts[t.part] = parts.get(t.part, 0.0) + float(t.points)
    (src / CODE_NOTEBOOK).write_text(json.dumps(code_notebook(a, parts), indent=1) + "\n")
    config = course / "nbgrader_config.py"
    exclude = {a.name: list(a.graded_files)}
    if config.exists():  # another assignment exported before: merge the exclusions
        import re
        m = re.search(r"exclude_overwriting = (\{.*\})", config.read_text())
        if m:
            try:
                exclude = {**json.loads(m.group(1).replace("'", '"')), **exclude}
            except ValueError:
                pass
    config.write_text(CONFIG.format(exclude=json.dumps(exclude)))
    return course
