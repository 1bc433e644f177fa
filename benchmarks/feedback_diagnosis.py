"""How many known-bug examples get feedback that names their cause?

For every example of the chosen assignments (hostile ones excepted), grade it in-process
(tests/harness.py) on the tests its manifest says it fails and report:

  hinted   some failing test's feedback carries a "Hint:" line
  named    the feedback contains the manifest's ``feedback`` phrase (the cause in words)
  misfired some "Hint:" line does not contain that phrase (it blames another bug)

    .venv/bin/python benchmarks/feedback_diagnosis.py [a1 a2 ...] [--dump out.json]

``--dump`` writes every failing test's feedback, to read the hints that fired by eye.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

from rich.console import Console  # noqa: E402
from rich.progress import track  # noqa: E402
from rich.table import Table  # noqa: E402

from autograder.authoring import registry  # noqa: E402
from autograder.authoring.declare import load_tests  # noqa: E402
from autograder.instructor.examples import list_examples  # noqa: E402
from harness import grade_example  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("assignments", nargs="*", default=["a1", "a2", "a3", "a4"])
    ap.add_argument("--dump", type=Path)
    args = ap.parse_args()
    console = Console()
    dump: dict = {}
    table = Table(title="feedback that names the bug")
    for col in ("assignment", "examples with a bug", "hinted", "named cause", "misfired"):
        table.add_column(col)
    for short in args.assignments:
        a = registry.get(short)
        tests = {t.name: t for t in load_tests(a.name)}
        n = hinted = named = misfired = 0
        for ex in track([e for e in list_examples(a) if not e.name.startswith("hostile/")
                         and e.name not in ("correct", "partial")], description=a.name,
                        console=console):
            failing = [t for t in tests if ex.expected_score(t, tests[t].points)
                       < tests[t].points - 1e-9]
            with tempfile.TemporaryDirectory(prefix="lmkit-diag-") as tmp:
                # no failing test: the suite does not see the bug (full marks, no feedback)
                res = grade_example(a, ex.name, failing, Path(tmp)) if failing else {}
            fb = {k: r.feedback for k, r in res.items() if not r.passed}
            text = "\n".join(fb.values())
            phrase = ex.manifest.get("feedback")
            n += 1
            hinted += "Hint:" in text
            named += bool(phrase) and phrase in text
            hints = [ln for ln in text.splitlines() if ln.startswith("Hint: ")]
            misfired += any(not phrase or phrase not in h for h in hints)
            dump[f"{a.name}/{ex.name}"] = {"phrase": phrase, "feedback": fb}
        table.add_row(a.name, str(n), str(hinted), str(named), str(misfired))
    console.print(table)
    if args.dump:
        args.dump.write_text(json.dumps(dump, indent=1))


if __name__ == "__main__":
    main()
