"""``grade`` as a library call: find the submissions, grade them on the local pool of job
slots (batch.py) or on a Dask cluster (cluster/), and show progress on a console."""
from __future__ import annotations

import contextlib
import functools
from pathlib import Path

from autograder.authoring.declare import load_tests
from autograder.authoring.registry import Assignment
from autograder.engine.batch import find_submissions, grade_batch, make_grader, temp_kit
from autograder.engine.records import SubmissionResult


def grade_paths(a: Assignment, paths: list[Path], out: Path, jobs: int = 2, *,
                strict: bool = False, public_only: bool = False, resume: bool = True,
                console=None, cluster: str | None = None, ship_kit: bool = False,
                retries: int | None = None) -> list[SubmissionResult]:
    """``grade`` as a library call: find the submissions under ``paths``, grade them into
    ``out`` and, given a rich console, show a progress bar and one line per submission.
    ``cluster`` (an address, a scheduler file or ``local:N``) grades on Dask instead of the
    local pool of ``jobs`` threads (engine.cluster)."""
    from autograder.reporters.console import progress

    tests = load_tests(a.name, include_hidden=not public_only)
    subs = find_submissions(paths, a)
    with contextlib.ExitStack() as stack:
        kit = stack.enter_context(temp_kit())
        grader = make_grader(a, tests, Path(kit), strict=strict)
        run = functools.partial(grade_batch, grader, subs, out, jobs=jobs, resume=resume)
        where = f"with {jobs} job(s)"
        if cluster is not None:
            from autograder.engine import cluster as cluster_mod
            retries = cluster_mod.DEFAULT_RETRIES if retries is None else retries
            cl = stack.enter_context(cluster_mod.connect(cluster, ship_kit=ship_kit,
                                                         retries=retries, strict=strict))
            run = functools.partial(cluster_mod.grade_batch_cluster, grader, subs, out, cl,
                                    resume=resume, retries=retries)
            where = f"on the {cl.describe()}"
            if console is not None:
                import logging   # a lost scheduler is told once, by ClusterLost
                for name in ("distributed.client", "distributed.utils"):
                    logging.getLogger(name).setLevel(logging.CRITICAL)
                if cl.dashboard:
                    console.print(f"Dask dashboard: {cl.dashboard}")
                if cl.allowed_failures:
                    console.print(f"note: the scheduler itself retries a task whose worker "
                                  f"died {cl.allowed_failures} time(s) before --retries "
                                  "counts one (docs/cluster.md, Faults)")
        if console is None:
            return run()
        console.print(f"Grading {len(subs)} submission(s) of {a.name} ({len(tests)} tests) "
                      f"{where} into {out}/")
        with progress(console) as prog:
            task = prog.add_task("grading", total=len(subs))

            def done(res, sid):
                prog.advance(task)
                if res is None:
                    prog.console.print(f"  {sid}: already graded (kept)")
                else:
                    prog.console.print(f"  {sid}: {res.score:g}/{res.max_score:g}"
                                       + (f"  [red]{res.fatal}[/]" if res.fatal else ""))
            return run(on_done=done)
