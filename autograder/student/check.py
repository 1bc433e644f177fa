"""``check``: a student's public tests, through the same sandboxed worker as grading."""
from __future__ import annotations

from pathlib import Path

from rich.console import Console

from autograder.authoring.declare import load_tests
from autograder.authoring.registry import Assignment
from autograder.engine.batch import check_workers, make_grader, temp_kit
from autograder.engine.intake import load_submission
from autograder.engine.records import SubmissionResult
from autograder.reporters.console import print_check, progress


def run_check(a: Assignment, submission: Path | None = None, only: list[str] | None = None,
              console: Console | None = None, workers: int | None = None) -> SubmissionResult:
    """Grade ``submission`` (default: the assignment's folder) on the public tests, with a
    progress bar on ``console`` when one is given, on ``workers`` sandboxed workers at once
    (default: one per core, check_workers)."""
    tests = load_tests(a.name, include_hidden=False)
    if only:
        tests = [t for t in tests if any(p in t.name for p in only)]
    sub = load_submission(Path(submission) if submission else a.stub_dir, a)
    with temp_kit() as kit:
        grader = make_grader(a, tests, Path(kit), strict=False,
                             workers=check_workers() if workers is None else workers)
        if console is None:
            return grader.grade_one(sub)
        with progress(console) as prog:
            task = prog.add_task(f"checking {a.name}", total=len(tests))
            return grader.grade_one(sub, on_test=lambda t, r: prog.advance(task))


def exit_code(res: SubmissionResult) -> int:
    """0 all public tests pass, 1 some fail, 2 nothing could be graded."""
    if res.fatal:
        return 2
    return 0 if res.score >= res.max_score - 1e-9 else 1


def check(a: Assignment, submission: Path | None, only: list[str] | None,
          console: Console) -> int:
    res = run_check(a, submission, only, console)
    print_check(res, console)
    return exit_code(res)
