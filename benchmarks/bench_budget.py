"""The per-submission time budget on the slow-submission example, side by side.

    .venv/bin/python benchmarks/bench_budget.py [--without-budget]

examples/hostile/slow_every_test sleeps 28 s in every a2_window test that imports layers.py
(each just under its 30 s limit). Graded on the whole a2 suite (public + hidden) with its
manifest's budget_s, and (--without-budget, about 20 minutes of sleeping, no CPU) with a
budget too large to matter, the way the engine graded before there was a budget. Prints the
wall time of each, the scores, and the ratio.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from autograder.authoring import registry as asg  # noqa: E402
from autograder.authoring.declare import load_tests  # noqa: E402
from autograder.engine.batch import grade_batch, make_grader  # noqa: E402
from autograder.engine.sandbox import Limits  # noqa: E402
from autograder.instructor.examples import list_examples, materialize  # noqa: E402


def grade(budget_s: float) -> tuple[float, float, float, dict]:
    a = asg.get("a2")
    ex = next(e for e in list_examples(a) if e.name == "hostile/slow_every_test")
    tests = load_tests(a.name)
    with tempfile.TemporaryDirectory(prefix="lmkit-bench-") as tmp:
        tmp = Path(tmp)
        tmp.chmod(0o755)
        kit = tmp / "kit"
        kit.mkdir()
        kit.chmod(0o755)
        g = make_grader(a, tests, kit, limits=Limits(budget_s=budget_s))
        t0 = time.monotonic()
        res = grade_batch(g, [materialize(ex, a, tmp / "slow")], tmp / "out", resume=False)[0]
        wall = time.monotonic() - t0
    kinds: dict[str, int] = {}
    for t in res.tests:
        kinds[t.kind] = kinds.get(t.kind, 0) + 1
    return wall, res.score, res.max_score, kinds


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--without-budget", action="store_true",
                   help="also grade with no effective budget (about 20 minutes)")
    args = p.parse_args()
    a = asg.get("a2")
    ex = next(e for e in list_examples(a) if e.name == "hostile/slow_every_test")
    rows = [("budget %g s" % ex.budget_s, *grade(ex.budget_s))]
    if args.without_budget:
        rows.append(("no budget", *grade(1e9)))
    for name, wall, score, max_score, kinds in rows:
        print(f"{name:>14}: {wall:8.1f} s wall   score {score:g}/{max_score:g}   {kinds}")
    if len(rows) == 2:
        print(f"ratio (no budget / budget): {rows[1][1] / rows[0][1]:.1f}x")


if __name__ == "__main__":
    main()
