"""Stage 3: judge each test run in the trusted parent, against the reference's outputs."""
from __future__ import annotations

from typing import Any

from autograder.authoring.declare import Test
from autograder.authoring.judges import Verdict
from autograder.engine.records import TestResult, TestRun


MISSING_EXPECTED = object()


def judge_run(test: Test, run: TestRun, expected: Any) -> TestResult:
    """Turn one run into a result: the judge decides only when the scenario returned."""
    def result(fraction: float, kind: str, text: str) -> TestResult:
        score = round(test.points * fraction, 6)
        return TestResult(test.name, test.part, test.visibility, test.points, score,
                          "passed" if fraction >= 1.0 - 1e-12 else "failed", kind, text,
                          test.description)

    if run.status == "error":
        err = run.error or {}
        if err.get("not_implemented"):
            return result(0.0, "not-implemented",
                          f"not implemented yet: {err.get('message') or 'NotImplementedError'}")
        text = f"{err.get('type')}: {err.get('message')}"
        if err.get("student_traceback"):
            text += "\nIn your code:\n" + "\n".join(err["student_traceback"])
        return result(0.0, "error", text + _log(test, run))
    if run.status == "timeout" and run.detail.startswith("submission time budget exhausted"):
        return result(0.0, "timeout", f"{run.detail}: earlier tests used all the time; make the "
                      "slow ones faster (look for loops numpy could do at once)" + _log(test, run))
    if run.status == "timeout":
        return result(0.0, "timeout", f"timed out: {run.detail}; look for an infinite loop or a "
                      "loop over every element where numpy can do the work at once" + _log(test, run))
    if run.status == "crashed":
        return result(0.0, "crashed", f"crashed: {run.detail}" + _log(test, run))
    if run.status == "no-output":
        return result(0.0, "no-output", f"{run.detail}; did your code call exit() or os._exit()?"
                      + _log(test, run))
    if run.status == "bad-output":
        return result(0.0, "bad-output", f"returned something that cannot be graded: {run.detail}")
    if expected is MISSING_EXPECTED:
        return result(0.0, "error", "internal: the reference output for this test is missing; "
                      "tell your instructor")
    try:
        verdict = test.judge(expected, run.outputs)
        if not isinstance(verdict, Verdict):
            raise TypeError(f"judge returned {type(verdict).__name__}")
    except Exception as err:  # a judge must survive any student output shape
        verdict = Verdict(0.0, f"the output could not be judged ({type(err).__name__}: {err}); "
                               "check the type and shape of what your function returns")
    fraction = min(1.0, max(0.0, float(verdict.score)))
    if fraction != fraction:  # NaN from a custom judge: no credit
        fraction = 0.0
    text = verdict.feedback()
    if fraction < 1.0 - 1e-12 and not text:
        text = "wrong: the output does not match the reference (the judge gave no details)"
    return result(fraction, "ok" if fraction >= 1.0 - 1e-12 else "wrong", text)


def _log(test: Test, run: TestRun) -> str:
    # Printed output helps students debug public tests; hidden tests keep theirs to themselves.
    if test.visibility == "public" and run.log_tail.strip():
        return "\nYour code printed (last lines):\n" + run.log_tail.strip()[-800:]
    return ""


