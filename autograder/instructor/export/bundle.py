"""The kit an export ships, and the one grading call every platform makes inside it.

``bundle_kit`` copies, for one assignment: ``autograder/`` (this assignment's suite only, hidden
tests included), ``lmcore/``, the reference ``solutions/<a>/``, the stubs ``assignments/<a>/``
(generated from the reference when the tree has none yet), the hidden tests' expected outputs
(``.cache/expected/<a>/``, so a platform never reruns the reference per submission) and the
pinned requirements. Inside a bundle ``assignments.KIT_ROOT`` is the bundle's root, so the
engine finds everything there.

``grade_to_doc`` is what runs on the platform: it finds the graded files in whatever the
platform hands over (a folder, a nested folder, a zip), grades them with the sandboxed engine
and returns the results.json document; it never raises, so every submission gets a result.
"""
from __future__ import annotations

import shutil
import time
import traceback
import zipfile
from pathlib import Path

from autograder.authoring.registry import KIT_ROOT, Assignment

SKIP = ("__pycache__", ".pytest_cache", ".ipynb_checkpoints", ".DS_Store")


def _ignore(folder, names):
    return [n for n in names if n in SKIP or n.endswith((".pyc", ".pyo"))]


def bundle_kit(a: Assignment, dest: Path, with_reference: bool = True) -> Path:
    """Write the kit for ``a`` into ``dest`` (created). Returns ``dest``."""
    from autograder.engine import expected as expected_mod
    from autograder.instructor.stubs import student_version
    from autograder.authoring.declare import load_tests

    dest.mkdir(parents=True, exist_ok=True)
    suites = KIT_ROOT / "autograder" / "suites"

    def ignore_autograder(folder, names):
        drop = _ignore(folder, names)
        if Path(folder).resolve() == suites.resolve():
            drop += [n for n in names if (suites / n).is_dir() and n != a.name]
        return drop + [n for n in names if n == ".cache"]

    shutil.copytree(KIT_ROOT / "autograder", dest / "autograder", ignore=ignore_autograder,
                    dirs_exist_ok=True)
    shutil.copytree(KIT_ROOT / "lmcore", dest / "lmcore", ignore=_ignore, dirs_exist_ok=True)
    stubs = dest / "assignments" / a.name
    if a.stub_dir.is_dir():
        shutil.copytree(a.stub_dir, stubs, ignore=_ignore, dirs_exist_ok=True)
    else:  # the tree has no generated stubs yet: make them as `python -m autograder stubs` would
        stubs.mkdir(parents=True, exist_ok=True)
        for f in sorted(a.solution_dir.glob("*.py")):
            (stubs / f.name).write_bytes(student_version(f, KIT_ROOT))
    if with_reference:
        shutil.copytree(a.solution_dir, dest / "solutions" / a.name, ignore=_ignore,
                        dirs_exist_ok=True)
        # hidden expected outputs, computed here once (the cache is keyed by the reference's code)
        tests = load_tests(a.name, include_hidden=True)
        expected_mod.load(a, tests, preload=a.preload_for(tests))
        cache = expected_mod.CACHE / a.name / expected_mod.code_hash(a)
        if cache.is_dir():
            shutil.copytree(cache, dest / ".cache" / "expected" / a.name / cache.name,
                            dirs_exist_ok=True)
    for f in ("requirements.txt", "requirements.lock"):
        if (KIT_ROOT / f).is_file():
            shutil.copyfile(KIT_ROOT / f, dest / f)
    return dest


def zip_tree(src: Path, out: Path, executables: tuple[str, ...] = ()) -> Path:
    """Zip ``src``'s contents (paths relative to it) into ``out``, written atomically."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
        for p in sorted(src.rglob("*")):
            rel = p.relative_to(src).as_posix()
            if p.is_dir():
                continue
            info = zipfile.ZipInfo(rel, date_time=(2020, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = (0o755 if rel in executables else 0o644) << 16
            zf.writestr(info, p.read_bytes())
    tmp.replace(out)
    return out


# -- on the platform --------------------------------------------------------------------------
def find_graded(root: Path, a: Assignment, depth: int = 4) -> Path:
    """The folder or zip under ``root`` that holds the graded files: ``root`` itself when they
    are there (or in ``root/<a.name>/``), else the shallowest folder holding one, else the only
    zip. Platforms unpack uploads differently (Gradescope keeps a student's folder structure)."""
    def holds(d: Path) -> bool:
        return any((d / f).is_file() for f in a.graded_files)
    if holds(root) or holds(root / a.name):
        return root
    frontier = [root]
    for _ in range(depth):
        nxt = []
        for d in frontier:
            try:
                kids = sorted(c for c in d.iterdir() if c.is_dir() and not c.is_symlink()
                              and not c.name.startswith((".", "__MACOSX")))
            except OSError:
                continue
            for c in kids:
                if holds(c):
                    return c
            nxt += kids
        frontier = nxt
    zips = [z for z in root.rglob("*.zip") if not z.is_symlink()]
    return zips[0] if len(zips) == 1 else root


def crash_doc(a_name: str, why: str, seconds: float = 0.0) -> dict:
    """A valid results.json for a grading that could not finish: score 0 and the reason."""
    return {
        "score": 0.0,
        "execution_time": round(seconds, 3),
        "output": (f"{a_name}: the autograder could not grade this submission, so it scored 0 "
                   f"for now. Reason: {why}\nYour instructor can see the details; resubmit "
                   "or ask them to regrade."),
        "output_format": "text",
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": [],
        "extra_data": {"assignment": a_name, "crashed": True},
    }


def grade_result(a_name: str, submission: Path, log=print):
    """Grade one submission folder with the full suite: its SubmissionResult (may raise)."""
    from autograder.authoring import registry as asg
    from autograder.authoring.declare import load_tests
    from autograder.engine.batch import make_grader, temp_kit
    from autograder.engine.intake import load_submission

    a = asg.get(a_name)
    path = find_graded(submission, a)
    log(f"grading {path} as {a.name}")
    tests = load_tests(a.name, include_hidden=True)
    with temp_kit() as kit:
        grader = make_grader(a, tests, Path(kit))
        sub = load_submission(path, a)
        sub.id = "submission"
        res = grader.grade_one(sub)
    log(f"score {res.score:g}/{res.max_score:g} in {res.seconds:.2f} s; sandbox: "
        + ", ".join(res.layers))
    return res


def grade_to_doc(a_name: str, submission: Path, platform: str,
                 hidden_visibility: str = "after_published", log=print) -> dict:
    """Gradescope's results.json for one submission folder (never raises)."""
    start = time.monotonic()
    try:
        from autograder.reporters.gradescope import gradescope_json

        doc = gradescope_json(grade_result(a_name, submission, log),
                              hidden_visibility=hidden_visibility)
        doc["extra_data"]["platform"] = platform
        return doc
    except BaseException as err:  # noqa: BLE001  every submission gets a result
        log("grading crashed:\n" + traceback.format_exc())
        return crash_doc(a_name, f"{type(err).__name__}: {err}", time.monotonic() - start)


# The child writes the lossless record (engine.records), or the reason it could not grade.
GRADE_CHILD = ("import json, sys, traceback; sys.path.insert(0, sys.argv[1]); "
               "from autograder.instructor.export.bundle import grade_result\n"
               "try:\n"
               "    rec = grade_result(sys.argv[2], __import__('pathlib').Path(sys.argv[3]), "
               "log=lambda m: print(m, file=sys.stderr)).to_record()\n"
               "except BaseException as err:\n"
               "    traceback.print_exc()\n"
               "    rec = {'crashed': f'{type(err).__name__}: {err}'}\n"
               "open(sys.argv[4], 'w').write(json.dumps(rec))")


def grade_in_subprocess(kit: Path, assignment: str, submission: Path):
    """``grade_result`` in a fresh ``python -I`` (for platforms whose own process has run
    student code: nothing it imported or patched takes part). Never raises: a grading that
    could not finish is a SubmissionResult with ``fatal`` set and no tests."""
    import json
    import os
    import subprocess
    import sys
    import tempfile

    from autograder.engine.records import SubmissionResult

    with tempfile.TemporaryDirectory(prefix="lmkit-bridge-") as tmp:
        out = Path(tmp) / "record.json"
        env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TMPDIR")}
        r = subprocess.run([sys.executable, "-I", "-c", GRADE_CHILD, str(kit), assignment,
                            str(submission), str(out)], env=env, cwd=str(kit),
                           capture_output=True, text=True)
        try:
            rec = json.loads(out.read_text())
            why = rec.get("crashed")
            if why is None:
                return SubmissionResult.from_record(rec)
        except (OSError, ValueError, KeyError, TypeError):
            why = f"the engine exited with {r.returncode}: {r.stderr[-2000:]}"
        return SubmissionResult(assignment, "submission",
                                fatal=f"the autograder could not grade this submission ({why})")
