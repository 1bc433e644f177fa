"""results.json in Gradescope's schema: what the platform shows a student.

A rendering only: nothing reads it back (resume, verify and the bridges read record.json).
Hidden tests are shown ``after_published`` by default, so their names and feedback stay
hidden until the instructor publishes grades.
"""
from __future__ import annotations

from autograder.engine.records import SubmissionResult


def gradescope_json(res: SubmissionResult, hidden_visibility: str = "after_published") -> dict:
    tests = []
    for i, t in enumerate(res.tests, start=1):
        tests.append({
            "name": f"{t.part}: {t.name}",
            "number": str(i),
            "score": t.score,
            "max_score": t.max_score,
            "status": t.status,
            "output": t.feedback or ("passed" if t.passed else "failed"),
            "output_format": "text",
            "visibility": "visible" if t.visibility == "public" else hidden_visibility,
            "tags": [t.part, t.visibility],
            "extra_data": {"test": t.name, "kind": t.kind},
        })
    return {
        "score": res.score,
        "execution_time": round(res.seconds, 3),
        "output": summary(res),
        "output_format": "text",
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": tests,
        "extra_data": {"assignment": res.assignment, "submission": res.submission,
                       "max_score": res.max_score, "sandbox": list(res.layers),
                       "fingerprint": res.fingerprint},
    }


def summary(res: SubmissionResult) -> str:
    """The top of the page: the score, why nothing was graded (if so), the notes."""
    lines = [f"{res.assignment}: {res.score:g} / {res.max_score:g} points"]
    if res.fatal:
        lines.append(f"Not graded: {res.fatal}")
    lines += [f"Note: {p}" for p in res.problems]
    return "\n".join(lines)


def results_json(results: list[SubmissionResult]) -> list[dict]:
    """The results.json documents of a batch, in order."""
    return [gradescope_json(r) for r in results]
