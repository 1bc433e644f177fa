"""otter-grader: a zip that ``otter run -a OUT.zip SUBMISSION.zip`` grades with this engine.

Otter grades one notebook or one .py file per submission, so a submission is a zip holding one
inert root file ``lmkit_submission.py`` and the graded files in ``<assignment>/``
(``pack_submission`` writes it). The autograder zip holds ``otter_config.json``, one otter
test file per kit test (``tests/``) and the kit under ``lmkit/`` (outside ``files/``, so it is
never copied next to the submission). Each test file asks ``otter_bridge`` for its cases; the
bridge grades the submission once, with the sandboxed engine in a fresh ``python -I`` process,
and turns each kit test into otter cases whose passing points equal the kit's score (partial
credit included), so otter's results agree with ``python -m autograder grade``.

Limit: otter executes the root .py inside its grading kernel before the tests. The kit's own
``lmkit_submission.py`` does nothing, and the graded modules run only in the engine's workers,
but a student who replaces it with hostile code runs unsandboxed in otter's process, as with
any otter assignment; grade with Gradescope's export or ``grade`` when that matters.
"""
from __future__ import annotations

import json
import tempfile
from pathlib import Path

from autograder.authoring.registry import Assignment
from autograder.instructor.export.bundle import bundle_kit, zip_tree

# One definition of otter's submission layout, shared with `submit --platform otter`.
from autograder.student.submit import OTTER_ROOT_FILE as ROOT_FILE  # noqa: E402,F401 - re-exported

TEST_FILE = '''\
"""otter test for the lmkit test {name!r}; the lmkit engine grades, this file reports."""
OK_FORMAT = False
import pathlib as _pathlib
import sys as _sys

_kit = str(_pathlib.Path.cwd().resolve().parent / "source" / "lmkit")
if _kit not in _sys.path:
    _sys.path.insert(0, _kit)
from autograder.instructor.export.otter_bridge import cases as _cases

name = {name!r}
globals().update(_cases({assignment!r}, name))
'''


def _file_name(test_name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in test_name) + ".py"


def export_otter(a: Assignment, out: Path) -> Path:
    from autograder.authoring.declare import load_tests

    with tempfile.TemporaryDirectory(prefix="lmkit-otter-") as tmp:
        root = Path(tmp)
        bundle_kit(a, root / "lmkit")
        config = {"lang": "python", "assignment_name": None, "show_hidden": False,
                  "print_summary": True, "zips": False}
        (root / "otter_config.json").write_text(json.dumps(config, indent=2) + "\n")
        (root / "tests").mkdir()
        for t in load_tests(a.name, include_hidden=True):
            (root / "tests" / _file_name(t.name)).write_text(
                TEST_FILE.format(name=t.name, assignment=a.name))
        (root / "requirements.txt").write_text((root / "lmkit" / "requirements.txt").read_text())
        return zip_tree(root, out)


def pack_submission(a: Assignment, folder: Path, out: Path) -> Path:
    """A student's otter submission (the same zip `submit --platform otter` writes)."""
    from autograder.student.submit import write_zip
    return write_zip(a, folder, out, platform="otter")
