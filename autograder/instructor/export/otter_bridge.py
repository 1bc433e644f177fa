"""Runs inside otter's grading kernel (imported by the exported test files).

The submission (the kernel's working directory) is graded once, by the engine in a fresh
``python -I`` process (so nothing the kernel has imported or patched takes part), and each kit
test becomes otter test cases: one passing case worth the points the kit gave and one failing
case, carrying the kit's feedback, worth the points it withheld.
"""
from __future__ import annotations

from pathlib import Path

KIT = Path(__file__).resolve().parents[3]
_results: dict = {}


def grade(assignment: str, submission: Path):
    """The SubmissionResult of ``submission`` (graded once per kernel)."""
    key = f"{assignment}:{submission}"
    if key not in _results:
        from autograder.instructor.export.bundle import grade_in_subprocess
        _results[key] = grade_in_subprocess(KIT, assignment, submission)
    return _results[key]


def cases(assignment: str, test_name: str) -> dict:
    """The otter test cases of one kit test, as globals for an otter test file."""
    from otter.test_files import test_case

    res = grade(assignment, Path.cwd())
    t = res.by_test().get(test_name)
    hidden = t is not None and t.visibility != "public"
    if t is None:  # the engine could not grade: every test fails with the reason
        found, score, max_score = False, 0.0, None
        feedback = f"Not graded: {res.fatal}" if res.fatal else "not graded"
    else:
        found, score, max_score = True, float(t.score), float(t.max_score)
        feedback = t.feedback or ("passed" if t.passed else "failed")

    def failing(message: str):
        def check():
            raise AssertionError(message)
        return check

    out = {}
    if found and score > 0:
        out["case_scored"] = test_case(name=f"{test_name} (points earned)", points=score,
                                       hidden=hidden)(lambda: None)
    if not found or score < max_score - 1e-12:
        out["case_lost"] = test_case(name=f"{test_name} (points lost)",
                                     points=(max_score - score) if found else 1,
                                     hidden=hidden)(failing(feedback))
    return out
