"""Per batch: gradebook.csv (one row per submission, one column per test) and the class
report (report.md with a score histogram, the pass rate per test and the most common
failures), for the instructor."""
from __future__ import annotations

import csv
import io
import re
from collections import Counter
from pathlib import Path

from autograder.engine.records import SubmissionResult
from autograder.reporters.files import atomic_write


def write_batch(results: list[SubmissionResult], out: Path, assignment: str) -> tuple[Path, Path]:
    """gradebook.csv and report.md (with its plots) for a batch of results."""
    results = sorted(results, key=lambda r: r.submission)
    names: list[str] = []
    for r in results:
        for t in r.tests:
            if t.name not in names:
                names.append(t.name)
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["submission", "score", "max_score", *names])
    for r in results:
        per = {t.name: t.score for t in r.tests}
        w.writerow([r.submission, f"{r.score:g}", f"{r.max_score:g}",
                    *[f"{per[n]:g}" if n in per else "" for n in names]])
    gradebook = out / "gradebook.csv"
    atomic_write(gradebook, buf.getvalue())
    report = out / "report.md"
    atomic_write(report, class_report(results, names, out, assignment))
    return gradebook, report


def class_report(results: list[SubmissionResult], names: list[str], out: Path,
                 assignment: str) -> str:
    n = len(results)
    scores = [r.score for r in results]
    max_score = max((r.max_score for r in results), default=0)
    lines = [f"# Class report: {assignment}", "",
             f"{n} submissions; mean {sum(scores) / max(1, n):.2f} / {max_score:g}; "
             f"full marks: {sum(1 for s in scores if s >= max_score - 1e-9)}; "
             f"not gradable: {sum(1 for r in results if r.fatal)}", ""]
    pass_rate = {}
    failures: Counter = Counter()
    for name in names:
        ts = [t for r in results for t in r.tests if t.name == name]
        pass_rate[name] = sum(t.passed for t in ts) / max(1, len(ts))
    for r in results:
        for t in r.tests:
            if not t.passed:
                first = ((t.feedback or "failed").strip().splitlines() or [""])[0][:140]
                failures[(t.name, _generalize(first))] += 1
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
