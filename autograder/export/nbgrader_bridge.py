"""Runs inside nbgrader's autograde kernel (imported by lmkit_code.ipynb's first cell).

``grade`` runs the engine once on the .py files of the kernel's working directory (the
student's autograded folder) in a fresh ``python -I`` process; ``part`` prints a part's
feedback on stdout (never stderr: nbgrader scores a cell with stderr output 0) and returns the
points it earned, the number nbgrader records for that grade cell.
"""
from __future__ import annotations

from pathlib import Path

KIT = Path(__file__).resolve().parents[2]
_doc: dict | None = None


def grade(assignment: str) -> str:
    global _doc
    from autograder.export.bundle import grade_in_subprocess
    _doc = grade_in_subprocess(KIT, assignment, Path.cwd(), "nbgrader")
    return _doc.get("output", "")


def part(name: str) -> float:
    if _doc is None:
        print("not graded: the setup cell did not run")
        return 0.0
    tests = [t for t in _doc["tests"] if t["tags"][:1] == [name]]
    if not tests:
        print(f"not graded: {_doc.get('output', '')}")
        return 0.0
    k = 0
    for t in tests:
        if t["visibility"] == "visible":
            print(f"{t['extra_data']['test']}: {t['score']:g}/{t['max_score']:g}"
                  + ("" if t["status"] == "passed" else "\n    " + t["output"].replace("\n", "\n    ")))
        else:
            k += 1
            print(f"hidden test {k}: {t['score']:g}/{t['max_score']:g}")
    return round(sum(float(t["score"]) for t in tests), 6)
