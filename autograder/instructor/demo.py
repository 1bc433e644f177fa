"""``demo``: the instructor's pipeline end to end on the bundled examples.

verify + grade (the reference, the stubs and every example submission of every assignment,
sandboxed, graded once into ``out/grades/<a>/`` exactly as ``grade`` writes a batch) ->
release (the student folder, leak checked) -> report (gradebook and class report per
assignment).
"""
from __future__ import annotations

import shutil
import time
from pathlib import Path

from rich.console import Console

from autograder.authoring import registry
from autograder.instructor.release.build import write_release
from autograder.instructor.verify import verify_assignment


def verify_all(names: list[str], console: Console, jobs: int, out: Path) -> list[bool]:
    """verify every assignment, two at a time (each with ``jobs`` workers): one assignment's
    serial parts (its reference outputs, the last submissions of its batch, the examples with
    a budget of their own) then overlap another's batch instead of leaving a core idle. In
    course order, which starts the two longest batches first (a1's real-split tests, a2's
    hostile examples)."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=2) as pool:
        done = [pool.submit(verify_assignment, registry.get(n), console, jobs=jobs, out=out / n)
                for n in names]
        return [f.result() for f in done]


def run_demo(console: Console, out: Path, jobs: int = 2, names: list[str] | None = None) -> int:
    t0 = time.monotonic()
    names = names or registry.available()
    if not names:
        console.print("[red]no assignment in this kit yet[/]")
        return 3
    console.rule("[bold]1. verify and grade the example submissions")
    for name in names:
        shutil.rmtree(out / "grades" / name, ignore_errors=True)
    ok = all(verify_all(names, console, jobs, out / "grades"))
    if not ok:
        console.print("[red]verify failed: fix the suite before grading students[/]")
        return 1
    console.rule("[bold]2. release")
    release = out / "release"
    if release.exists():
        shutil.rmtree(release)
    console.print(str(write_release(registry.KIT_ROOT, release, names)))
    console.rule("[bold]3. reports")
    for name in names:
        console.print(f"  {name}: {out / 'grades' / name / 'report.md'}  "
                      f"{out / 'grades' / name / 'gradebook.csv'}")
    console.print(f"\n[bold green]demo done[/] in {time.monotonic() - t0:.0f} s; student release in "
                  f"{release}/")
    return 0
