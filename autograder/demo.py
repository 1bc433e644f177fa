"""``demo``: the instructor's pipeline end to end on the bundled examples.

verify (reference full, stubs zero, examples as declared) -> release (student folder, leak
checked) -> grade (every example submission of every assignment, sandboxed) -> report.
"""
from __future__ import annotations

import shutil
import time
from pathlib import Path

from rich.console import Console

from autograder import assignments as asg
from autograder.examples import list_examples, materialize


def run_demo(console: Console, out: Path, jobs: int = 2) -> int:
    from autograder.cli import main as cli

    t0 = time.monotonic()
    names = asg.available()
    if not names:
        console.print("[red]no assignment in this kit yet[/]")
        return 3
    console.rule("[bold]1. verify")
    if cli(["verify", "--jobs", str(jobs)]) != 0:
        console.print("[red]verify failed: fix the suite before grading students[/]")
        return 1
    console.rule("[bold]2. release")
    release = out / "release"
    if release.exists():
        shutil.rmtree(release)
    if cli(["release", str(release)]) != 0:
        return 1
    console.rule("[bold]3. grade the example submissions")
    for name in names:
        a = asg.get(name)
        subs = out / "submissions" / name
        if subs.exists():
            shutil.rmtree(subs)
        paths = []
        for ex in list_examples(a):
            p = materialize(ex, a, subs / ex.name.replace("/", "__"))
            paths.append(str(p))
        if cli(["grade", *paths, "--assignment", name, "--jobs", str(jobs),
                "--out", str(out / "grades" / name), "--no-resume"]) != 0:
            return 1
    console.rule("[bold]4. reports")
    for name in names:
        console.print(f"  {name}: {out / 'grades' / name / 'report.md'}  "
                      f"{out / 'grades' / name / 'gradebook.csv'}")
    console.print(f"\n[bold green]demo done[/] in {time.monotonic() - t0:.0f} s; student release in "
                  f"{release}/")
    return 0
