"""``python -m autograder <command>``: the kit's command line.

Exit codes: 0 success; 1 the work ran and found failures (tests failed, verify mismatched);
2 bad usage or input (unknown assignment, missing path); 3 the grader itself could not run.
"""
from __future__ import annotations

import argparse
import importlib.util
import time
from pathlib import Path

from rich.console import Console

from autograder.authoring import registry as asg
from autograder.errors import KitError, UsageError
from lmcore.corpus import CorpusError

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)

# Commands whose code lives in autograder/instructor/, which a student release does not hold.
INSTRUCTOR_COMMANDS = ("grade", "verify", "expected", "stubs", "release", "demo", "export")


# -- student commands --------------------------------------------------------------------------
def cmd_check(args) -> int:
    from autograder.student.check import check

    return check(asg.get(args.assignment), Path(args.submission) if args.submission else None,
                 args.test, console)


def cmd_submit(args) -> int:
    from autograder.student.submit import make_submission

    return make_submission(asg.get(args.assignment), Path(args.folder) if args.folder else None,
                           Path(args.out) if args.out else None, console,
                           skip_check=args.no_check, platform=args.platform)


def cmd_doctor(args) -> int:
    from autograder.engine import sandbox

    if getattr(args, "brief", False):
        line = sandbox_summary_line()
        if line:
            console.print(line, markup=False, highlight=False, soft_wrap=True)
        return 0
    console.print("Sandbox layers this machine offers: " + ", ".join(sandbox.available_layers()))
    backend = sandbox.cgroup_backend()
    console.print(f"cgroup: {backend.kind} at {backend.where()}" if backend else
                  "cgroup: none writable (neither v1 memory+pids nor a delegated v2 subtree): "
                  "memory and process limits rely on rlimits")
    bw = sandbox.bwrap_works()
    console.print("bubblewrap: " + ("unprivileged, through a user namespace" if bw and not
                                    sandbox.is_root() else "as root" if bw else
                                    sandbox.bwrap_missing_reason()))
    off = sandbox.switched_off()
    if off:
        console.print(f"[yellow]switched off by {sandbox.LAYERS_ENV}: {', '.join(sorted(off))}")
    for layer, cost, fix in sandbox.missing_layers():
        console.print(f"[yellow]missing {layer}[/]: {cost}; fix: {fix}", highlight=False)
    uncovered = uncontained_attacks()
    if uncovered:
        console.print(f"[yellow]hostile examples not contained here ({len(uncovered)}): "
                      + ", ".join(f"{n} (needs {need})" for n, need in uncovered), highlight=False)
    return 0


def uncontained_attacks() -> list[tuple[str, str]]:
    """(example, what it needs) for each hostile example this machine's layers do not stop."""
    import json
    from autograder.engine import sandbox
    try:
        from autograder.instructor.examples import EXAMPLES, Example, describe_needs
    except ImportError:  # a student release has no examples
        return []
    active = sandbox.short_names(sandbox.available_layers())
    found = []
    for m in sorted((EXAMPLES / "hostile").glob("*/manifest.json")):
        try:
            ex = Example("hostile/" + m.parent.name, m.parent, json.loads(m.read_text()))
            needs = ex.needs(active)
        except (ValueError, KitError):
            continue
        if needs:
            found.append((m.parent.name, describe_needs(needs)))
    return found


def sandbox_summary_line() -> str:
    """One line for `kit.py setup`: what is missing, what that costs, the fix ("" if nothing)."""
    from autograder.engine import sandbox
    missing = sandbox.missing_layers()
    if not missing:
        return ""
    uncovered = uncontained_attacks()
    names = ", ".join(n for n, _ in uncovered[:6]) + (" ..." if len(uncovered) > 6 else "")
    parts = [f"bwrap ({sandbox.bwrap_missing_reason()})" if layer == "bwrap" else layer
             for layer, _, _ in missing]
    costs = [f"{len(uncovered)} hostile example(s) not stopped here ({names})" if uncovered
             else "every hostile example is still stopped"]
    if any(layer == "cgroup" for layer, _, _ in missing):
        costs.append("fork and memory bombs spread over processes are bounded only by rlimits")
    fixes = "; ".join(dict.fromkeys(fix for _, _, fix in missing))
    return (f"sandbox: missing {', '.join(parts)}: {', '.join(costs)}; fix: {fixes} "
            "(details: python3 kit.py doctor)")


# -- instructor commands -----------------------------------------------------------------------
def cmd_grade(args) -> int:
    from autograder.engine.grading import grade_paths
    from autograder.engine.sandbox import plan

    a = asg.get(args.assignment)
    paths = [Path(p) for p in args.paths]
    missing = [p for p in paths if not p.exists()]
    if missing:
        raise UsageError(f"{missing[0]}: no such file or folder; give submission folders or "
                         "zips, or a folder of them")
    if args.cluster is None and (args.ship_kit or args.retries is not None):
        raise UsageError("--ship-kit and --retries go with --cluster ADDRESS (or --cluster "
                         "local:N); without --cluster the local pool grades with --jobs")
    plan(0, args.strict)   # --strict: refuse now, before anything is graded
    out = Path(args.out)
    t0 = time.monotonic()
    results = grade_paths(a, paths, out, jobs=args.jobs, strict=args.strict,
                          public_only=args.public_only, resume=not args.no_resume,
                          console=console, cluster=args.cluster, ship_kit=args.ship_kit,
                          retries=args.retries)
    layers = next((r.layers for r in results if r.layers), [])
    console.print(f"\n[bold]{len(results)} graded[/] in {time.monotonic() - t0:.1f} s; mean "
                  f"score {sum(r.score for r in results) / max(1, len(results)):.2f}; gradebook "
                  f"{out / 'gradebook.csv'}, report {out / 'report.md'}")
    console.print("sandbox layers: " + ", ".join(layers))
    return 0


def cmd_verify(args) -> int:
    from autograder.instructor.verify import verify_assignment

    names = [asg.get(n).name for n in args.assignments] or asg.available()
    ok = True
    for name in names:
        ok &= verify_assignment(asg.get(name), console, jobs=args.jobs,
                                hostile=not args.skip_hostile,
                                strict=getattr(args, "strict", False),
                                all_tests=args.all_tests)
    console.print("[bold green]verify: all good" if ok else "[bold red]verify: FAILED")
    return 0 if ok else 1


def cmd_expected(args) -> int:
    from autograder.authoring.declare import load_tests
    from autograder.instructor.reference import build_public

    for n in args.assignments or asg.available():
        a = asg.get(n)
        tests = load_tests(a.name, include_hidden=False)
        dest = build_public(a, tests, a.preload_for(tests))
        console.print(f"{a.name}: wrote the expected outputs of "
                      f"{sum(t.needs_reference for t in tests)} public tests to {dest}")
    return 0


def cmd_stubs(args) -> int:
    from autograder.instructor.stubs import generate_assignments

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
    from autograder.instructor.release.build import write_release
    from autograder.instructor.release.leakcheck import ReleaseLeak

    try:
        report = write_release(asg.KIT_ROOT, Path(args.out),
                               [asg.get(n).name for n in args.assignments] or None)
    except ReleaseLeak as err:
        err_console.print(f"[red]release refused:[/] {err}")
        return 1
    console.print(str(report))
    return 0


def cmd_demo(args) -> int:
    from autograder.instructor.demo import run_demo

    return run_demo(console, Path(args.out), jobs=args.jobs)


def cmd_export(args) -> int:
    from autograder.instructor import export

    return export.main(args, console)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m autograder",
                                description="lmkit: release, check, grade and verify assignments")
    sub = p.add_subparsers(dest="command", required=True)

    c = sub.add_parser("check", help="run the public tests on your work")
    c.add_argument("assignment", help=", ".join(n.split("_")[0] for n in asg.available()) or "a1")
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
    g.add_argument("--cluster", metavar="ADDRESS",
                   help="grade on a Dask cluster: tcp://HOST:PORT, a scheduler file, or local:N "
                        "for N local worker processes (docs/cluster.md); --jobs is then unused")
    g.add_argument("--ship-kit", action="store_true",
                   help="with --cluster: upload this kit to every worker before grading")
    g.add_argument("--retries", type=int, default=None, metavar="K",
                   help="with --cluster: send a submission again at most K times when the "
                        "worker grading it dies (default 2)")
    g.set_defaults(fn=cmd_grade)

    v = sub.add_parser("verify", help="reference full marks, stubs zero, examples as declared")
    v.add_argument("assignments", nargs="*")
    v.add_argument("--jobs", "-j", type=int, default=2)
    v.add_argument("--skip-hostile", action="store_true",
                   help="leave examples/hostile/ out (they take the longest: hangs, floods)")
    v.add_argument("--strict", action="store_true",
                   help="fail when a hostile example is not contained on this machine")
    v.add_argument("--all-tests", action="store_true",
                   help="grade every example on every test (by default an example runs only "
                        "the tests its edits can reach, traced on the reference)")
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
    d.add_argument("--brief", action="store_true",
                   help="one line: what is missing, what it costs, the fix (nothing if all is there)")
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
    if args.command in INSTRUCTOR_COMMANDS and importlib.util.find_spec("autograder.instructor") is None:
        err_console.print(f"[red]error:[/] `{args.command}` is an instructor command; it is not "
                          "part of the student release")
        return 2
    try:
        return args.fn(args)
    except KitError as err:
        err_console.print(f"[red]error:[/] {err}")
        return err.exit_code
    except CorpusError as err:
        err_console.print(f"[red]error:[/] {err}")
        return 3
    except KeyboardInterrupt:
        err_console.print("[yellow]interrupted[/]: results written so far are kept; run the same "
                          "command again to resume")
        return 130
