"""Grade one submission or a batch: load -> run in a sandboxed worker -> judge -> write.

Submissions are graded in parallel, one worker per submission, ``jobs`` at a time, each job
slot with its own unprivileged uid. Every submission gets a result, whatever it does; a
result already on disk for the same files and tests is not redone (resume after Ctrl-C).
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import queue
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from autograder.authoring.declare import Test
from autograder.authoring.registry import Assignment
from autograder.engine import expected as expected_mod
from autograder.engine.intake import load_submission
from autograder.engine.judging import judge_run
from autograder.engine.records import Submission, SubmissionResult, TestResult, TestRun
from autograder.engine.runners import KeptRunner, ParallelRunner, SandboxedRunner
from autograder.engine.sandbox import Limits
from autograder.engine.staging import public_kit, stage
from autograder.errors import UsageError
from autograder.reporters import files as result_files
from autograder.reporters.gradebook import write_batch


def tests_hash(tests: list[Test]) -> str:
    h = hashlib.sha256()
    for t in tests:
        h.update(json.dumps([t.spec(), t.points, t.visibility], sort_keys=True).encode())
    return h.hexdigest()[:16]


@dataclass
class Grader:
    """Everything a batch shares: tests, expected outputs, the public kit, the limits."""
    assignment: Assignment
    tests: list[Test]
    expected: dict
    kit: Path
    limits: Limits
    strict: bool = False
    sandboxed: bool = True
    cancel: threading.Event = field(default_factory=threading.Event)
    workers: int = 1        # per submission; more only for a lone check (check_workers)
    # verify's shortcut: submission id -> results it gets without running those tests (the
    # reference's, for tests its edits provably cannot reach; instructor/reach.py)
    assumed: dict[str, dict[str, TestResult]] = field(default_factory=dict)
    # submission id -> a time budget of its own (seconds), in place of limits.budget_s
    budgets: dict[str, float] = field(default_factory=dict)
    # submissions that may run on a worker kept for the next one of the same slot and preload
    # (KeptRunner): verify's known examples, the kit's own code, each of which would otherwise
    # pay a worker's start (torch's import, a1's corpus). Never students' or hostile code.
    share_workers: frozenset = frozenset()
    _kept: dict = field(default_factory=dict, init=False, repr=False)  # (slot, preload, warm) -> KeptRunner

    def grade_one(self, sub: Submission, slot: int = 0,
                  on_test: Callable[[Test, TestRun], None] | None = None,
                  kept: KeptRunner | None = None) -> SubmissionResult:
        """``kept``: run on that runner's worker, kept between calls (a notebook's checks of
        one student's files), instead of a worker of this call's own."""
        start = time.monotonic()
        res = SubmissionResult(self.assignment.name, sub.id, problems=list(sub.problems),
                               fatal=sub.fatal,
                               fingerprint=f"{sub.fingerprint()[:16]}-{tests_hash(self.tests)}")
        if sub.fatal:
            res.tests = [TestResult(t.name, t.part, t.visibility, t.points, 0.0, "failed",
                                    "error", f"not graded: {sub.fatal}", t.description)
                         for t in self.tests]
            res.seconds = time.monotonic() - start
            return res
        def progress(test, run):
            if on_test:
                on_test(test, run)
            if self.cancel.is_set():  # Ctrl-C: stop between tests, write nothing half-done
                raise Cancelled(sub.id)

        given = self.assumed.get(sub.id, {})
        to_run = [t for t in self.tests if t.name not in given]
        judged: dict[str, TestResult] = {}
        if to_run:
            limits = self.limits
            if sub.id in self.budgets:
                limits = dataclasses.replace(limits, budget_s=self.budgets[sub.id])
            if kept is None and sub.id in self.share_workers and self.workers == 1:
                kept = self._kept_runner(slot, to_run, limits)
            with tempfile.TemporaryDirectory(prefix="lmkit-s-") as tmp:
                staged = stage(sub, self.assignment, kept.stage_dir if kept else Path(tmp) / "stage")
                if kept is not None:
                    runner = kept
                elif self.workers > 1:
                    runner = ParallelRunner(self.assignment, self.kit, self.workers, limits,
                                            self.sandboxed, self.strict, slot)
                else:
                    runner = SandboxedRunner(package=self.assignment.name, kit=self.kit,
                                             preload=self.assignment.preload_for(to_run),
                                             limits=limits, sandboxed=self.sandboxed,
                                             strict=self.strict, slot=slot,
                                             warm=self.assignment.warm_for(to_run))
                report = runner.run(staged, to_run, progress=progress)
            res.layers = report.layers
            judged = {t.name: judge_run(t, r, self.expected.get(t.name))
                      for t, r in zip(to_run, report.runs)}
        res.tests = [judged[t.name] if t.name in judged else given[t.name] for t in self.tests]
        res.assumed = [t.name for t in self.tests if t.name not in judged]
        res.seconds = time.monotonic() - start
        return res


    def _kept_runner(self, slot: int, tests: list[Test], limits: Limits) -> KeptRunner:
        a = self.assignment
        key = (slot, a.preload_for(tests), a.warm_for(tests))
        if key not in self._kept:   # a slot's submissions are graded one at a time
            self._kept[key] = KeptRunner(a, self.kit, limits, self.sandboxed, self.strict, slot)
        self._kept[key].limits = limits
        return self._kept[key]

    def close_kept(self) -> None:
        """Stop the workers kept for share_workers (grade_batch does, at its end)."""
        while self._kept:
            self._kept.popitem()[1].close()


class Cancelled(BaseException):
    """Raised between tests when the batch is interrupted (not an Exception: it must not
    become an 'internal error' result)."""


def make_grader(assignment: Assignment, tests: list[Test], kit_dir: Path, limits: Limits | None = None,
                strict: bool = False, sandboxed: bool = True, workers: int = 1,
                known: dict | None = None, kit_ready: bool = False) -> Grader:
    """``known``: the reference's outputs of a run already made (verify's traced run), used
    instead of running the reference again for the hidden tests. ``kit_ready``: ``kit_dir``
    already holds the public kit (with the corpus), which a running worker may be mounting."""
    exp = expected_mod.load(assignment, tests, preload=assignment.preload_for(tests), known=known)
    if not kit_ready:
        public_kit(kit_dir, corpus=assignment.warm_for(tests))
    return Grader(assignment, tests, exp, kit_dir, with_budget(limits or Limits(), assignment),
                  strict, sandboxed, workers=workers)


CHECK_WORKERS_MAX = 4   # past this the workers' starts cost more than the tests they share
CHECK_WORKERS_ENV = "LMKIT_CHECK_WORKERS"   # a fixed count instead (benchmarks, odd machines)


def check_workers() -> int:
    """Workers for one submission graded alone (``check``): one per idle core (the cores
    less the load average), at most CHECK_WORKERS_MAX, at least one; or the count in
    LMKIT_CHECK_WORKERS. Each extra worker pays its own start (torch's import, a1's corpus)
    to share the tests, which is a gain only on a core that would otherwise wait: on a busy
    machine it is a loss. The results are the same whatever the count."""
    fixed = os.environ.get(CHECK_WORKERS_ENV, "").strip()
    if fixed:
        if not fixed.isdigit() or int(fixed) < 1:
            raise UsageError(f"{CHECK_WORKERS_ENV}={fixed!r}: expected a number of workers "
                             f"(1 or more), e.g. {CHECK_WORKERS_ENV}=2; unset it to use one "
                             "per idle core")
        return int(fixed)
    cores = os.cpu_count() or 1
    return max(1, min(cores - _busy_cores(), CHECK_WORKERS_MAX))


def _busy_cores() -> int:
    """Cores other work keeps busy: the load average, but no more than the processes running
    right now besides this one (Linux), since the minute's average still counts the last
    check's own workers for a while after they have gone."""
    try:
        busy = int(os.getloadavg()[0])
    except (OSError, AttributeError):   # no load average (Windows): assume the cores are idle
        return 0
    now = _running_now()
    return busy if now is None else min(busy, max(0, now - 1))


def _running_now() -> int | None:
    """Runnable processes on the machine at this instant, this one included (the fourth
    field of /proc/loadavg, "running/total"), or None where there is no /proc/loadavg."""
    try:
        with open("/proc/loadavg") as f:
            return int(f.read().split()[3].split("/")[0])
    except (OSError, ValueError, IndexError):
        return None


def with_budget(limits: Limits, assignment: Assignment) -> Limits:
    """``limits`` with its per-submission budget resolved: its own, else the assignment's
    BUDGET_S, else DEFAULT_BUDGET_S."""
    if limits.budget_s is not None:
        return limits
    import dataclasses
    from autograder.engine.sandbox import DEFAULT_BUDGET_S
    return dataclasses.replace(limits, budget_s=assignment.budget_s or DEFAULT_BUDGET_S)


def find_submissions(paths: list[Path], assignment: Assignment) -> list[Path]:
    """Each path is a submission (a zip, or a folder holding graded files) or a folder of
    submissions (its sub-folders and zips)."""
    found: list[Path] = []
    for p in paths:
        if p.is_dir() and not p.is_symlink() and not _is_submission_dir(p, assignment):
            children = sorted(c for c in p.iterdir()
                              if not c.name.startswith(".") and (c.is_dir() or c.suffix == ".zip"))
            found.extend(children if children else [p])
        else:
            found.append(p)
    return found


def _is_submission_dir(p: Path, assignment: Assignment) -> bool:
    return any((p / f).exists() or (p / assignment.name / f).exists()
               for f in assignment.graded_files) or (p / "manifest.json").exists()


def load_batch(grader: Grader, paths: list[Path], out: Path,
               on_done: Callable[[SubmissionResult | None, str], None] | None = None,
               resume: bool = True) -> tuple[list[Submission], list[Submission],
                                             dict[str, SubmissionResult]]:
    """Read every submission (ids made unique) and keep the results already on disk for the
    same files and tests: returns (all, still to grade, kept results by id)."""
    out.mkdir(parents=True, exist_ok=True)
    subs: list[Submission] = []
    seen: dict[str, int] = {}
    for p in paths:
        s = load_submission(p, grader.assignment)
        if s.id in seen:                       # two "alice.zip" in different folders
            seen[s.id] += 1
            s.id = f"{s.id}-{seen[s.id]}"
        else:
            seen[s.id] = 1
        subs.append(s)
    thash = tests_hash(grader.tests)
    todo = []
    done_results: dict[str, SubmissionResult] = {}
    for s in subs:
        done = result_files.read_record(out / s.id) if resume else None
        if done is not None and done.fingerprint == f"{s.fingerprint()[:16]}-{thash}":
            done_results[s.id] = done
            if on_done:
                on_done(None, s.id)
        else:
            todo.append(s)
    return subs, todo, done_results


def grade_batch(grader: Grader, paths: list[Path], out: Path, jobs: int = 1,
                on_done: Callable[[SubmissionResult | None, str], None] | None = None,
                resume: bool = True) -> list[SubmissionResult]:
    """Grade every submission into ``out/<id>/``; returns every result, in input order.
    (``engine.cluster.grade_batch_cluster`` is the same on a Dask cluster.)"""
    subs, todo, done_results = load_batch(grader, paths, out, on_done, resume)
    slots: queue.Queue[int] = queue.Queue()
    for k in range(max(1, jobs)):
        slots.put(k)

    def work(s: Submission) -> SubmissionResult:
        slot = slots.get()
        try:
            res = grader.grade_one(s, slot)
        except Exception as err:  # the grader's own bug must not cost the rest of the batch
            res = _internal_error(grader, s, err)
        finally:
            slots.put(slot)
        result_files.write_submission(res, out / s.id)
        if on_done:
            on_done(res, s.id)
        return res

    grader.cancel.clear()
    pool = ThreadPoolExecutor(max_workers=max(1, jobs))
    try:
        futures = {pool.submit(work, s): s for s in todo}
        for f in as_completed(futures):
            done_results[futures[f].id] = f.result()
    except BaseException:
        # Ctrl-C (or a full disk): queued submissions never start, running ones stop after
        # their current test without writing; results already written stay for the resume.
        grader.cancel.set()
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    finally:
        grader.close_kept()
    pool.shutdown(wait=True)
    results = [done_results[s.id] for s in subs]
    write_batch(results, out, grader.assignment.name)
    return results


def _internal_error(grader: Grader, sub: Submission, err: Exception) -> SubmissionResult:
    """A result for a submission the grader itself failed on. Its fingerprint is empty, so
    the next run (resume) grades it again instead of keeping this."""
    import traceback
    where = traceback.extract_tb(err.__traceback__)[-1]
    why = (f"internal error in the grader ({type(err).__name__}: {str(err)[:300]} at "
           f"{Path(where.filename).name}:{where.lineno}); run the grade command again, and "
           "report it if it persists")
    res = SubmissionResult(grader.assignment.name, sub.id, problems=list(sub.problems), fatal=why)
    res.tests = [TestResult(t.name, t.part, t.visibility, t.points, 0.0, "failed", "error",
                            f"not graded: {why}", t.description) for t in grader.tests]
    return res


def temp_kit() -> tempfile.TemporaryDirectory:
    d = tempfile.TemporaryDirectory(prefix="lmkit-kit-")
    Path(d.name).chmod(0o755)
    return d
