"""Stage 4: write what grading found, for Gradescope, for the student, for the instructor.

Per submission: ``results.json`` in Gradescope's schema and ``feedback.md``. Per batch:
``gradebook.csv`` and ``report.md`` with PNG plots. Every file is written to a temporary
name and renamed, so an interrupted batch never leaves a half-written result.
"""
from __future__ import annotations

import csv
import io
import json
import os
from collections import Counter
from pathlib import Path

from autograder.judge import SubmissionResult

RESULTS = "results.json"
FEEDBACK = "feedback.md"


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
    summary = [f"{res.assignment}: {res.score:g} / {res.max_score:g} points"]
    if res.fatal:
        summary.append(f"Not graded: {res.fatal}")
    summary += [f"Note: {p}" for p in res.problems]
    return {
        "score": res.score,
        "execution_time": round(res.seconds, 3),
        "output": "\n".join(summary),
        "output_format": "text",
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": tests,
        "extra_data": {"assignment": res.assignment, "submission": res.submission,
                       "max_score": res.max_score, "sandbox": _layer_names(res.layers),
                       "fingerprint": res.fingerprint},
    }


def _layer_names(layers: list[str]) -> list[str]:
    """The active layers without the per-slot uid number: which job slot graded a submission
    is an accident of scheduling, and results must not depend on ``--jobs``."""
    import re
    return [re.sub(r"^unprivileged uid \d+$", "unprivileged uid (one per job slot)", x)
            for x in layers]


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


def write_submission(res: SubmissionResult, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write(folder / FEEDBACK, feedback_md(res))
    # results.json last: its presence marks the submission as done (resume skips it)
    atomic_write(folder / RESULTS, json.dumps(gradescope_json(res), indent=2) + "\n")


def read_done(folder: Path) -> dict | None:
    try:
        return json.loads((folder / RESULTS).read_text())
    except (OSError, ValueError):
        return None


def write_batch(results: list[dict], out: Path, assignment: str) -> tuple[Path, Path]:
    """Gradebook CSV and class report from the results.json documents of a batch."""
    results = sorted(results, key=lambda r: r["extra_data"]["submission"])
    names = []
    for r in results:
        for t in r["tests"]:
            if t["extra_data"]["test"] not in names:
                names.append(t["extra_data"]["test"])
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["submission", "score", "max_score", *names])
    for r in results:
        per = {t["extra_data"]["test"]: t["score"] for t in r["tests"]}
        w.writerow([r["extra_data"]["submission"], f"{r['score']:g}",
                    f"{r['extra_data']['max_score']:g}", *[f"{per[n]:g}" if n in per else "" for n in names]])
    gradebook = out / "gradebook.csv"
    atomic_write(gradebook, buf.getvalue())
    report = out / "report.md"
    atomic_write(report, class_report(results, names, out, assignment))
    return gradebook, report


def class_report(results: list[dict], names: list[str], out: Path, assignment: str) -> str:
    n = len(results)
    scores = [r["score"] for r in results]
    max_score = max((r["extra_data"]["max_score"] for r in results), default=0)
    lines = [f"# Class report: {assignment}", "",
             f"{n} submissions; mean {sum(scores) / max(1, n):.2f} / {max_score:g}; "
             f"full marks: {sum(1 for s in scores if s >= max_score - 1e-9)}; "
             f"not gradable: {sum(1 for r in results if r['output'].find('Not graded') >= 0)}", ""]
    pass_rate = {}
    failures: Counter = Counter()
    for name in names:
        ts = [t for r in results for t in r["tests"] if t["extra_data"]["test"] == name]
        pass_rate[name] = sum(t["status"] == "passed" for t in ts) / max(1, len(ts))
    for r in results:
        for t in r["tests"]:
            if t["status"] == "failed":
                first = (t["output"].strip().splitlines() or [""])[0][:140]
                failures[(t["extra_data"]["test"], _generalize(first))] += 1
    plots = _plots(scores, max_score, pass_rate, out)
    if plots:
        lines += [f"![{p.stem}]({p.name})" for p in plots] + [""]
    lines += ["## Pass rate per test", "", "| test | pass rate |", "|---|---:|"]
    lines += [f"| {k} | {v:.0%} |" for k, v in sorted(pass_rate.items(), key=lambda kv: kv[1])]
    lines += ["", "## Most common failures", "", "| test | count | first line of feedback |",
              "|---|---:|---|"]
    for (test, msg), c in failures.most_common(15):
        lines.append(f"| {test} | {c} | {msg.replace('|', '/')} |")
    return "\n".join(lines) + "\n"


def _generalize(msg: str) -> str:
    """Group messages that differ only in numbers ('got 0.25' and 'got 0.5')."""
    import re
    return re.sub(r"-?\d+(\.\d+)?(e[-+]?\d+)?", "#", msg)


def _plots(scores, max_score, pass_rate, out: Path) -> list[Path]:
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return []
    paths = []
    fig, ax = plt.subplots(figsize=(6, 3.2))
    ax.hist(scores, bins=min(20, max(5, len(set(scores)))), range=(0, max_score or 1),
            color="#4c72b0")
    ax.set_xlabel("score")
    ax.set_ylabel("submissions")
    ax.set_title("Score distribution")
    fig.tight_layout()
    p = out / "score_histogram.png"
    fig.savefig(p, dpi=100, metadata={"Software": None})
    plt.close(fig)
    paths.append(p)
    if pass_rate:
        items = sorted(pass_rate.items(), key=lambda kv: kv[1])
        fig, ax = plt.subplots(figsize=(7, max(2.5, 0.22 * len(items))))
        ax.barh([k for k, _ in items], [v for _, v in items], color="#55a868")
        ax.set_xlim(0, 1)
        ax.set_xlabel("pass rate")
        ax.tick_params(axis="y", labelsize=7)
        fig.tight_layout()
        p = out / "pass_rate.png"
        fig.savefig(p, dpi=100, metadata={"Software": None})
        plt.close(fig)
        paths.append(p)
    return paths
