"""Stage 1b: lay a submission's graded files over the kit's stub package, and build the
public kit (the only part of the grader the worker may see).

Only the assignment's graded files come from a submission; everything else in the package
(``__init__.py``, provided helpers) comes from the kit's own ``assignments/`` copy, so a
student cannot replace what is given.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

from autograder.authoring.registry import KIT_ROOT, Assignment
from autograder.engine.records import Submission


def stage(sub: Submission, assignment: Assignment, dest: Path, base: Path | None = None) -> Path:
    """Write the package ``dest/<assignment.name>/``: the kit's stub package with the
    submission's graded files over it. Returns ``dest``. ``base`` overrides the package the
    submission is laid over (the reference uses solutions/)."""
    pkg = dest / assignment.name
    src = base or assignment.stub_dir
    if pkg.exists():
        shutil.rmtree(pkg)
    pkg.mkdir(parents=True)
    for f in sorted(src.glob("*.py")):
        shutil.copyfile(f, pkg / f.name)
    for name, data in sub.files.items():
        (pkg / name).write_bytes(data)
    for f in [dest, pkg, *pkg.iterdir()]:
        os.chmod(f, 0o755 if f.is_dir() else 0o644)
    return dest


def reference_submission(assignment: Assignment) -> Submission:
    sub = Submission(id="reference", source=assignment.solution_dir)
    for name in assignment.graded_files:
        sub.files[name] = (assignment.solution_dir / name).read_bytes()
    return sub


# -- the public kit: what the worker may see of the grader --------------------------------
# Expected outputs stay out too: a worker has no business reading answers, even public ones.
# The instructor tools have no business in a sandbox either.
PUBLIC_KIT_EXCLUDE = ("hidden.py", "__pycache__", ".cache", "expected", "instructor")


def public_kit(dest: Path) -> Path:
    """Copy lmcore/ and autograder/ without hidden suites or caches into ``dest`` (world-
    readable) for the sandbox to mount read-only. Returns ``dest``."""
    def ignore(folder, names):
        return [n for n in names if n in PUBLIC_KIT_EXCLUDE or n.endswith(".pyc")]
    for pkg in ("lmcore", "autograder"):
        shutil.copytree(KIT_ROOT / pkg, dest / pkg, ignore=ignore, dirs_exist_ok=True)
    for root, dirs, files in os.walk(dest):
        os.chmod(root, 0o755)
        for f in files:
            os.chmod(os.path.join(root, f), 0o644)
    return dest
