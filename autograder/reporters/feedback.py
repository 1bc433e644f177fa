"""feedback.md: the student's page, a table of points and, per failed test, what went wrong."""
from __future__ import annotations

import io

from autograder.engine.records import SubmissionResult


def feedback_md(res: SubmissionResult, show_hidden: bool = True) -> str:
    out = io.StringIO()
    out.write(f"# {res.assignment}: {res.submission}\n\n**Score: {res.score:g} / {res.max_score:g}**\n\n")
    if res.fatal:
        out.write(f"Not graded: {res.fatal}\n\n")
    for p in res.problems:
        out.write(f"- Note: {p}\n")
    if res.problems:
        out.write("\n")
    out.write("| test | part | points | result |\n|---|---|---:|---|\n")
    for t in res.tests:
        if t.visibility == "hidden" and not show_hidden:
            continue
        mark = "passed" if t.passed else ("not implemented" if t.kind == "not-implemented" else t.kind)
        out.write(f"| {t.name} | {t.part} | {t.score:g}/{t.max_score:g} | {mark} |\n")
    failed = [t for t in res.tests if not t.passed and (show_hidden or t.visibility == "public")]
    if failed:
        out.write("\n## What went wrong\n")
        for t in failed:
            out.write(f"\n### {t.name} ({t.visibility}, {t.score:g}/{t.max_score:g})\n")
            if t.description:
                out.write(f"{t.description}\n\n")
            out.write("```\n" + t.feedback.strip() + "\n```\n")
    return out.getvalue()
