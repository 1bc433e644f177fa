"""``python -m autograder <command>``: the kit's command line.

Exit codes: 0 success; 1 the work ran and found failures (tests failed, verify mismatched);
2 bad usage or input (unknown assignment, missing path); 3 the grader itself could not run.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from autograder import assignments as asg
from autograder.suite import load_tests

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)


def _progress() -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), console=console, transient=False)


def _results_table(res, show_feedback: bool = True) -> Table:
    table = Table(title=f"{res.assignment}: {res.submission}", show_lines=False)
    table.add_column("test")
    table.add_column("points", justify="right")
    table.add_column("result")
    for t in res.tests:
        style = "green" if t.passed else ("yellow" if t.kind == "not-implemented" else "red")
        label = "passed" if t.passed else ("not implemented yet" if t.kind == "not-implemented" else t.kind)
        table.add_row(t.name, f"{t.score:g}/{t.max_score:g}", f"[{style}]{label}[/]")
    return table


# -- check -----------------------------------------------------------------------------------
def cmd_check(args) -> int:
    from autograder.grade import make_grader, temp_kit
    from autograder.load import load_submission

    a = asg.get(args.assignment)
    tests = load_tests(a.name, include_hidden=False)
    if args.test:
        tests = [t for t in tests if any(p in t.name for p in args.test)]
    path = Path(args.submission) if args.submission else a.stub_dir
    with temp_kit() as kit:
        grader = make_grader(a, tests, Path(kit), strict=False)
        sub = load_submission(path, a)
        with _progress() as prog:
            task = prog.add_task(f"checking {a.name}", total=len(tests))
            res = grader.grade_one(sub, on_test=lambda t, r: prog.advance(task))
    console.print(_results_table(res))
    for t in res.tests:
        if not t.passed and t.kind != "not-implemented":
            console.rule(f"[red]{t.name}")
            console.print(t.feedback, markup=False)
    todo = sum(1 for t in res.tests if t.kind == "not-implemented")
    console.print(f"\n[bold]Total: {res.score:g} / {res.max_score:g}[/] on the public tests"
                  + (f" ({todo} not implemented yet)" if todo else "")
                  + "; hidden tests run when you are graded.")
    if res.fatal:
        console.print(f"[red]{res.fatal}")
        return 2
    return 0 if res.score >= res.max_score - 1e-9 else 1


# -- grade -----------------------------------------------------------------------------------
def cmd_grade(args) -> int:
    from autograder.grade import find_submissions, grade_batch, make_grader, temp_kit
    from autograder.sandbox import StrictRefused, plan

    a = asg.get(args.assignment)
    paths = [Path(p) for p in args.paths]
    missing = [p for p in paths if not p.exists()]
    if missing:
        err_console.print(f"[red]error:[/] {missing[0]}: no such file or folder; give submission "
                          "folders or zips, or a folder of them")
        return 2
    try:
        plan(0, args.strict)
    except StrictRefused as err:
        err_console.print(f"[red]error:[/] {err}")
        return 3
    tests = load_tests(a.name, include_hidden=not args.public_only)
    subs = find_submissions(paths, a)
    out = Path(args.out)
    t0 = time.monotonic()
    with temp_kit() as kit:
        console.print(f"Grading {len(subs)} submission(s) of {a.name} ({len(tests)} tests) "
                      f"with {args.jobs} job(s) into {out}/")
        grader = make_grader(a, tests, Path(kit), strict=args.strict)
        with _progress() as prog:
            task = prog.add_task("grading", total=len(subs))

            def done(res, sid):
                prog.advance(task)
                if res is None:
                    prog.console.print(f"  {sid}: already graded (kept)")
                else:
                    prog.console.print(f"  {sid}: {res.score:g}/{res.max_score:g}"
                                       + (f"  [red]{res.fatal}[/]" if res.fatal else ""))
            docs = grade_batch(grader, subs, out, jobs=args.jobs, on_done=done,
                               resume=not args.no_resume)
    dt = time.monotonic() - t0
    layers = next((d["extra_data"]["sandbox"] for d in docs if d["extra_data"].get("sandbox")), [])
    console.print(f"\n[bold]{len(docs)} graded[/] in {dt:.1f} s; mean score "
                  f"{sum(d['score'] for d in docs) / max(1, len(docs)):.2f}; gradebook "
                  f"{out / 'gradebook.csv'}, report {out / 'report.md'}")
    console.print("sandbox layers: " + ", ".join(layers))
    return 0


# -- verify ----------------------------------------------------------------------------------
def cmd_verify(args) -> int:
    from autograder.verify import verify_assignment

    names = [asg.get(n).name for n in args.assignments] or asg.available()
    ok = True
    for name in names:
        ok &= verify_assignment(asg.get(name), console, jobs=args.jobs)
    console.print("[bold green]verify: all good" if ok else "[bold red]verify: FAILED")
    return 0 if ok else 1


# -- expected --------------------------------------------------------------------------------
def cmd_expected(args) -> int:
    from autograder.expected import build_public
    from autograder.grade import preload_for

    for n in args.assignments or asg.available():
        a = asg.get(n)
        tests = load_tests(a.name, include_hidden=False)
        dest = build_public(a, tests, preload_for(a))
        console.print(f"{a.name}: wrote the expected outputs of "
                      f"{sum(t.needs_reference for t in tests)} public tests to {dest}")
    return 0


# -- stubs / release / submit -----------------------------------------------------------------
def cmd_stubs(args) -> int:
    from autograder.stubs import generate_assignments

    changed = generate_assignments(asg.KIT_ROOT, check=args.check)
    if args.check:
        if changed:
            console.print("[red]assignments/ differs from what solutions/ generates:[/]\n  "
                          + "\n  ".join(str(c) for c in changed)
                          + "\nrun `python -m autograder stubs` and commit the result")
            return 1
        console.print("assignments/ is up to date with solutions/")
        return 0
    console.print(f"wrote {len(changed)} changed file(s) under assignments/")
    return 0


def cmd_release(args) -> int:
    from autograder.release import ReleaseError, ReleaseLeak, write_release

    try:
        report = write_release(asg.KIT_ROOT, Path(args.out),
                               [asg.get(n).name for n in args.assignments] or None)
    except ReleaseLeak as err:
        err_console.print(f"[red]release refused:[/] {err}")
        return 1
    except ReleaseError as err:
        err_console.print(f"[red]release refused:[/] {err}")
        return 2
    console.print(str(report))
    return 0


def cmd_submit(args) -> int:
    from autograder.submit import make_submission

    return make_submission(asg.get(args.assignment), Path(args.folder) if args.folder else None,
                           Path(args.out) if args.out else None, console,
                           skip_check=args.no_check, platform=args.platform)


def cmd_doctor(args) -> int:
    from autograder.sandbox import available_layers, bwrap_works, is_root

    console.print("Sandbox layers this machine offers: " + ", ".join(available_layers()))
    if not bwrap_works():
        console.print("[yellow]bubblewrap is missing or not working: install it with "
                      "`apt-get install -y bubblewrap` (Linux) for namespaces and the network cut")
    if not is_root():
        console.print("[yellow]not root: student code runs as your own user (fine for checking "
                      "your own work; instructors grade as root)")
    return 0


def cmd_demo(args) -> int:
    from autograder.demo import run_demo

    return run_demo(console, Path(args.out), jobs=args.jobs)


def cmd_export(args) -> int:
    from autograder import export

    return export.main(args, console)


def _known_error(err: Exception) -> bool:
    """Errors whose message already names the file and the fix (no traceback needed)."""
    names = {"ReferenceFailed", "ExampleError", "SuiteError", "StubError", "ReleaseError",
             "ReleaseLeak", "WorkerStartError", "StrictRefused", "CorpusError"}
    return any(c.__name__ in names for c in type(err).__mro__)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m autograder",
                                description="lmkit: release, check, grade and verify assignments")
    sub = p.add_subparsers(dest="command", required=True)

    c = sub.add_parser("check", help="run the public tests on your work")
    c.add_argument("assignment", help="a1, a2, a3 or a4")
    c.add_argument("--submission", help="folder with your files (default: assignments/<name>/)")
    c.add_argument("-k", "--test", action="append", help="only tests whose name contains this")
    c.set_defaults(fn=cmd_check)

    g = sub.add_parser("grade", help="grade submissions (folders, zips, or folders of them)")
    g.add_argument("paths", nargs="+")
    g.add_argument("--assignment", "-a", required=True)
    g.add_argument("--jobs", "-j", type=int, default=2)
    g.add_argument("--out", "-o", default="out/grades")
    g.add_argument("--strict", action="store_true", help="refuse to grade without isolation")
    g.add_argument("--public-only", action="store_true")
    g.add_argument("--no-resume", action="store_true", help="regrade submissions already graded")
    g.set_defaults(fn=cmd_grade)

    v = sub.add_parser("verify", help="reference full marks, stubs zero, examples as declared")
    v.add_argument("assignments", nargs="*")
    v.add_argument("--jobs", "-j", type=int, default=2)
    v.set_defaults(fn=cmd_verify)

    e = sub.add_parser("expected", help="regenerate the public tests' expected outputs")
    e.add_argument("assignments", nargs="*")
    e.set_defaults(fn=cmd_expected)

    s = sub.add_parser("stubs", help="regenerate assignments/ from solutions/")
    s.add_argument("--check", action="store_true", help="only report differences")
    s.set_defaults(fn=cmd_stubs)

    r = sub.add_parser("release", help="write the student release")
    r.add_argument("out")
    r.add_argument("assignments", nargs="*")
    r.set_defaults(fn=cmd_release)

    sm = sub.add_parser("submit", help="pack your graded files into a zip (after a check)")
    sm.add_argument("assignment")
    sm.add_argument("--folder", help="default: assignments/<name>/")
    sm.add_argument("--out", help="zip path (default: <name>-submission.zip)")
    sm.add_argument("--no-check", action="store_true")
    sm.add_argument("--platform", choices=["otter"], help="otter: the layout otter-grader needs")
    sm.set_defaults(fn=cmd_submit)

    d = sub.add_parser("doctor", help="which sandbox layers this machine offers")
    d.set_defaults(fn=cmd_doctor)

    dm = sub.add_parser("demo", help="the instructor pipeline on the bundled examples")
    dm.add_argument("--out", default="out/demo")
    dm.add_argument("--jobs", "-j", type=int, default=2)
    dm.set_defaults(fn=cmd_demo)

    x = sub.add_parser("export", help="export to gradescope, nbgrader or otter")
    x.add_argument("platform", choices=["gradescope", "nbgrader", "otter"])
    x.add_argument("assignment")
    x.add_argument("out")
    x.set_defaults(fn=cmd_export)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.fn(args)
    except asg.UnknownAssignment as err:
        err_console.print(f"[red]error:[/] {err}")
        return 2
    except ModuleNotFoundError as err:
        if err.name and err.name.startswith("autograder."):
            err_console.print(f"[red]error:[/] `{args.command}` is an instructor command; it is "
                              "not part of the student release")
            return 2
        raise
    except Exception as err:  # the grader's own failures: say what and where, exit 3
        if _known_error(err):
            err_console.print(f"[red]error:[/] {err}")
            return 3
        raise
    except KeyboardInterrupt:
        err_console.print("[yellow]interrupted[/]: results written so far are kept; run the same "
                          "command again to resume")
        return 130
