"""Runs inside nbgrader's autograde kernel (imported by lmkit_code.ipynb's first cell).

``grade`` runs the engine once on the .py files of the kernel's working directory (the
student's autograded folder) in a fresh ``python -I`` process; ``part`` prints a part's
feedback on stdout (never stderr: nbgrader scores a cell with stderr output 0) and returns the
points it earned, the number nbgrader records for that grade cell.
"""
from __future__ import annotations

from pathlib import Path

KIT = Path(__file__).resolve().parents[3]
_result = None   # the SubmissionResult of the kernel's folder, once graded


def grade(assignment: str) -> str:
    global _result
    from autograder.instructor.export.bundle import grade_in_subprocess
    from autograder.reporters.gradescope import summary

    _result = grade_in_subprocess(KIT, assignment, Path.cwd())
    return summary(_result)


def part(name: str) -> float:
    if _result is None:
        print("not graded: the setup cell did not run")
        return 0.0
    from autograder.reporters.gradescope import summary

    tests = [t for t in _result.tests if t.part == name]
    if not tests:
        print(f"not graded: {summary(_result)}")
        return 0.0
    k = 0
    for t in tests:
        if t.visibility == "public":
            feedback = t.feedback or "failed"
            print(f"{t.name}: {t.score:g}/{t.max_score:g}"
                  + ("" if t.passed else "\n    " + feedback.replace("\n", "\n    ")))
        else:
            k += 1
            print(f"hidden test {k}: {t.score:g}/{t.max_score:g}")
    return round(sum(float(t.score) for t in tests), 6)
