"""The terminal: the table of a submission's tests and the progress bar of long work (rich)."""
from __future__ import annotations

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from autograder.engine.records import SubmissionResult


def progress(console: Console) -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), console=console, transient=False)


def results_table(res: SubmissionResult) -> Table:
    table = Table(title=f"{res.assignment}: {res.submission}", show_lines=False)
    table.add_column("test")
    table.add_column("points", justify="right")
    table.add_column("result")
    for t in res.tests:
        style = "green" if t.passed else ("yellow" if t.kind == "not-implemented" else "red")
        label = "passed" if t.passed else ("not implemented yet" if t.kind == "not-implemented" else t.kind)
        table.add_row(t.name, f"{t.score:g}/{t.max_score:g}", f"[{style}]{label}[/]")
    return table


def print_check(res: SubmissionResult, console: Console) -> None:
    """What ``check`` shows: the table, then the feedback of every failed test."""
    console.print(results_table(res))
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
