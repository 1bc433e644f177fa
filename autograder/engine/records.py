"""The records that pass between the engine's stages, and the lossless result record.

    intake -> Submission -> staging/driver -> TestRun (per test) -> judging -> TestResult
    batch collects a SubmissionResult per submission; reporters render it.

``SubmissionResult.to_record()`` / ``from_record()`` is the lossless JSON form written as
``record.json`` beside every results.json: resume, verify and the platform bridges read it,
never Gradescope's JSON back.
"""
from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

RECORD_VERSION = 1


@dataclass
class Submission:
    id: str                                   # folder or zip name: one row of the gradebook
    source: Path
    files: dict[str, bytes] = field(default_factory=dict)   # graded file name -> content
    problems: list[str] = field(default_factory=list)       # shown at the top of feedback
    fatal: str | None = None                  # set when nothing can be graded

    def fingerprint(self) -> str:
        h = hashlib.sha256()
        for name in sorted(self.files):
            h.update(name.encode() + b"\0" + self.files[name] + b"\0")
        return h.hexdigest()


@dataclass
class TestRun:
    """What happened when one test's scenario ran (not yet judged)."""
    name: str
    status: str                 # ok | error | timeout | crashed | no-output | bad-output
    outputs: Any = None
    error: dict | None = None   # type, message, not_implemented, student_traceback
    detail: str = ""            # for crashed/timeout/bad-output: what the parent saw
    seconds: float = 0.0
    log_tail: str = ""
    reached: list[tuple[str, str]] | None = None   # traced reference runs: (file, qualname) called


@dataclass
class TestResult:
    name: str
    part: str
    visibility: str
    max_score: float
    score: float
    status: str            # passed | failed
    kind: str              # ok | wrong | not-implemented | error | timeout | crashed | no-output | bad-output
    feedback: str = ""
    description: str = ""

    @property
    def passed(self) -> bool:
        return self.status == "passed"



@dataclass
class SubmissionResult:
    assignment: str
    submission: str
    tests: list[TestResult] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    fatal: str | None = None
    layers: list[str] = field(default_factory=list)
    seconds: float = 0.0
    fingerprint: str = ""
    # tests not run but given the reference's result, because verify proved that the
    # submission's edits cannot reach them (instructor/reach.py); empty when graded in full
    assumed: list[str] = field(default_factory=list)

    @property
    def score(self) -> float:
        return round(sum(t.score for t in self.tests), 6)

    @property
    def max_score(self) -> float:
        return round(sum(t.max_score for t in self.tests), 6)

    def to_record(self) -> dict:
        d = asdict(self)
        d["version"] = RECORD_VERSION
        return d

    @classmethod
    def from_record(cls, d: dict) -> "SubmissionResult":
        if d.get("version") != RECORD_VERSION:
            raise ValueError(f"record version {d.get('version')!r}, expected {RECORD_VERSION}")
        tests = [TestResult(**t) for t in d["tests"]]
        fields_ = {k: d[k] for k in ("assignment", "submission", "problems", "fatal", "layers",
                                     "seconds", "fingerprint")}
        return cls(tests=tests, assumed=list(d.get("assumed", [])), **fields_)

    def by_test(self) -> dict[str, "TestResult"]:
        return {t.name: t for t in self.tests}
