"""``verify``: prove the suite grades what it claims, before any student is graded.

The reference must get full marks, the stubs zero (as "not implemented yet", never as a
crash), and every known submission in examples/ exactly the per-test points its manifest
declares, with feedback that contains the phrase its manifest's ``feedback`` names (the cause
of its bug in words). Every graded part needs a public and a hidden test, and the committed
public expected outputs must match the current reference.
"""
from __future__ import annotations

import tempfile
from pathlib import Path

from rich.console import Console
from rich.table import Table

from autograder.authoring.declare import load_tests
from autograder.authoring.registry import Assignment
from autograder.engine.batch import grade_batch, make_grader, temp_kit
from autograder.engine.intake import submission_id
from autograder.engine.records import SubmissionResult
from autograder.instructor import reach
from autograder.instructor.examples import describe_needs, list_examples, materialize
from autograder.instructor.reference import stale_public
from autograder.reporters.feedback import feedback_md
from autograder.engine.sandbox import short_names

TOL = 1e-6  # scores are rounded to 6 decimals in results.json


def shared_worker_ids(subs: dict, examples) -> frozenset:
    """The submissions of a verify batch that may share a kept worker: the reference, the
    stubs and the known examples, the kit's own code. Never a hostile example: each of those
    attacks the grader, and gets a worker of its own."""
    hostile = {ex.submission_id for ex in examples if ex.name.startswith("hostile/")}
    return frozenset(submission_id(path) for sid, path in subs.items() if sid not in hostile)


def verify_assignment(a: Assignment, console: Console, jobs: int = 2,
                      out: Path | None = None, strict: bool = False,
                      hostile: bool = True, all_tests: bool = False,
                      results_into: dict[str, SubmissionResult] | None = None) -> bool:
    """True when everything is as declared. ``out``: keep the batch there (each submission's
    results, the gradebook and the class report), as ``grade`` would write it. ``hostile=False``
    leaves examples/hostile/ out (the kit's tests grade them on their own, with a listener and
    a planted secret to attack).

    The reference and the stubs run every test; an example runs the tests its edits can reach
    and has the reference's results for the rest (reach.py; the reference is traced once for
    this). ``all_tests``: every example runs every test.

    A hostile example whose ``stopped_by`` layers this machine lacks is reported as "not
    contained here: needs <layer>" and not compared (``strict``: that is a failure too).
    ``results_into``: filled with each submission's typed result, by "reference", "stubs" and
    example name (the kit's tests read the feedback of the examples from it)."""
    tests = load_tests(a.name, include_hidden=True)
    problems: list[str] = []
    parts_public = {t.part for t in tests if t.visibility == "public"}
    parts_hidden = {t.part for t in tests if t.visibility == "hidden"}
    for part in sorted(parts_public ^ parts_hidden):
        which = "hidden" if part in parts_public else "public"
        problems.append(f"part {part!r} has no {which} test")
    stale = stale_public(a, tests)
    if stale:
        problems.append(f"public expected outputs are missing or stale for {stale[:5]}; run "
                        f"`python -m autograder expected {a.short}`")
    with tempfile.TemporaryDirectory(prefix="lmkit-verify-") as tmp, temp_kit() as kit:
        tmp = Path(tmp)
        out = out or tmp / "out"
        subs: dict[str, Path] = {}
        ref = tmp / "subs" / "reference"
        ref.mkdir(parents=True)
        for f in a.graded_files:
            (ref / f).write_bytes((a.solution_dir / f).read_bytes())
        subs["reference"] = ref
        stubs = tmp / "subs" / "stubs"
        stubs.mkdir()
        for f in a.graded_files:
            (stubs / f).write_bytes((a.stub_dir / f).read_bytes())
        subs["stubs"] = stubs
        examples = [ex for ex in list_examples(a) if hostile or not ex.name.startswith("hostile/")]
        for ex in examples:
            sid = ex.submission_id
            subs[sid] = materialize(ex, a, tmp / "subs" / sid)
        if all_tests:
            grader = make_grader(a, tests, Path(kit))
        else:
            traced = reach.trace_reference(a, tests)
            grader = make_grader(a, tests, Path(kit),
                                 known={n: tr.outputs for n, tr in traced.items()})
            grader.assumed = reach.assumed_results(a, examples, tests, traced, grader.expected)
        ran = sum(len(tests) - len(grader.assumed.get(ex.submission_id, {}))
                  for ex in examples)
        console.print(f"[bold]{a.name}[/]: grading the reference and the stubs on {len(tests)} "
                      f"tests each, and {len(examples)} examples on {ran} tests in all "
                      + ("(every test)" if all_tests else
                         "(each on the tests its edits can reach; the rest are the reference's)"))
        # examples with a time budget of their own (budget_s) get it in the same batch; they
        # and the other attacks (hangs that wait out timeouts) go first, so that no long one
        # starts last and leaves a core idle at the end
        grader.budgets = {ex.submission_id: ex.budget_s for ex in examples
                          if ex.budget_s}
        # the kit's own code, one after another on a kept worker per slot (a start each would
        # import torch again, or parse a1's corpus); the hostile examples each get their own
        grader.share_workers = shared_worker_ids(subs, examples)
        order = sorted(subs, key=lambda s: (s not in grader.budgets, not s.startswith("hostile__")))
        results = grade_batch(grader, [subs[s] for s in order], out, jobs=jobs, resume=False)
    by_id = {r.submission: r for r in results}
    if results_into is not None:
        labels = {"reference": "reference", "stubs": "stubs",
                  **{ex.submission_id: ex.name for ex in examples}}
        results_into.update({labels[sid]: by_id[submission_id(path)] for sid, path in subs.items()})
    active = short_names(by_id[submission_id(subs["reference"])].layers)
    uncontained: list[str] = []
    table = Table(title=f"verify {a.name}")
    for col in ("submission", "tests run", "expected", "got", "verdict"):
        table.add_column(col)

    def row(sid, label, want_fn):
        res = by_id[submission_id(subs[sid])]
        got = res.by_test()
        bad = []
        for t in tests:
            want = want_fn(t)
            have = got[t.name].score if t.name in got else None
            if have is None or abs(have - want) > TOL:
                said = got[t.name].feedback if t.name in got else ""
                bad.append(f"{t.name}: expected {want:g}, got {have} ({said[:160]!r})")
        want_total = sum(want_fn(t) for t in tests)
        table.add_row(label, f"{len(tests) - len(res.assumed)}/{len(tests)}", f"{want_total:g}",
                      f"{res.score:g}",
                      "[green]ok[/]" if not bad else f"[red]{len(bad)} mismatch(es)[/]")
        problems.extend(f"{label}: {b}" for b in bad)
        return res

    row("reference", "reference", lambda t: t.points)
    stub_res = row("stubs", "stubs", lambda t: 0.0)
    for t in stub_res.tests:
        if t.kind != "not-implemented" and t.score == 0:
            problems.append(f"stubs: {t.name} failed as {t.kind}, not as 'not implemented "
                            f"yet': {t.feedback[:160]!r}")
    for ex in examples:
        sid = ex.submission_id
        needs = ex.needs(active)
        if needs:
            res = by_id[submission_id(subs[sid])]
            table.add_row(ex.name, f"{len(tests) - len(res.assumed)}/{len(tests)}", "-",
                          f"{res.score:g}",
                          f"[yellow]not contained here: needs {describe_needs(needs)}[/]")
            uncontained.append(f"{ex.name}: not contained here: needs {describe_needs(needs)}")
            continue
        res = row(sid, ex.name, lambda t, ex=ex: ex.expected_score(t.name, t.points))
        phrase = ex.manifest.get("feedback")
        if not isinstance(phrase, str) or not phrase.strip():
            problems.append(f"{ex.name}: {ex.folder}/manifest.json has no \"feedback\" phrase; "
                            "add the words its feedback must contain (the cause of its bug)")
        elif phrase not in feedback_md(res):
            said = " | ".join(t.feedback.splitlines()[0] for t in res.tests
                              if not t.passed and t.feedback)[:300]
            problems.append(f"{ex.name}: its feedback does not contain {phrase!r} "
                            f"({ex.folder}/manifest.json \"feedback\"); it says: {said!r}")
    console.print(table)
    attacks = [ex for ex in examples if ex.name.startswith("hostile/")]
    if attacks:
        console.print(f"hostile examples contained here: {len(attacks) - len(uncontained)}/"
                      f"{len(attacks)} (layers: {', '.join(sorted(active))})")
    if uncontained:
        console.print(f"[yellow]{len(uncontained)} attack(s) not contained on this machine"
                      f"{' (--strict: a failure)' if strict else ''}; `python -m autograder "
                      "doctor` says what to install:[/]")
        for u in uncontained:
            console.print(f"  [yellow]- {u}[/]", markup=True, highlight=False)
        if strict:
            problems.extend(uncontained)
    for p in problems:
        console.print(f"  [red]- {p}[/]", markup=True, highlight=False)
    return not problems

