"""The files grading leaves per submission, written so that an interruption never leaves
half a result: each is written to a temporary name and renamed.

    feedback.md   for the student (reporters.feedback)
    results.json  Gradescope's schema (reporters.gradescope)
    record.json   the lossless typed record (engine.records): written last, so its presence
                  marks the submission as done; resume reads it
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from autograder.engine.records import SubmissionResult

RESULTS = "results.json"
FEEDBACK = "feedback.md"
RECORD = "record.json"


def atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:  # a full disk or Ctrl-C: leave the old file, not half a new one
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def write_submission(res: SubmissionResult, folder: Path) -> None:
    from autograder.reporters.feedback import feedback_md
    from autograder.reporters.gradescope import gradescope_json

    folder.mkdir(parents=True, exist_ok=True)
    atomic_write(folder / FEEDBACK, feedback_md(res))
    atomic_write(folder / RESULTS, json.dumps(gradescope_json(res), indent=2) + "\n")
    atomic_write(folder / RECORD, json.dumps(res.to_record(), indent=1) + "\n")


def read_record(folder: Path) -> SubmissionResult | None:
    """The finished result in ``folder``, or None (missing, unreadable, another version)."""
    try:
        return SubmissionResult.from_record(json.loads((folder / RECORD).read_text()))
    except (OSError, ValueError, KeyError, TypeError):
        return None
