"""One submission's tests given to its worker, or shared by several workers at once (a lone
``check``): each worker takes the next test it can run, so the tests balance themselves
whatever they cost."""
from __future__ import annotations

import threading
import time
from pathlib import Path

from autograder.authoring.declare import Test
from autograder.engine.driver import RunConfig, drain
from autograder.engine.records import TestRun


class TestPool:
    """The tests of one submission, shared by the workers that run them: each worker takes the
    next test it can run, so the tests balance themselves whatever they cost. ``needs[i]`` is
    what test i needs a worker to have preloaded (a costly import, PRELOAD_WHEN); a worker
    takes the tests only it can run before the others, and ``first`` (the heavy tests, when
    known) before the rest, in the declared order otherwise."""

    def __init__(self, tests: list[Test], needs: list[frozenset] | None = None,
                 first: list[bool] | None = None):
        self.tests = tests
        self.needs = needs or [frozenset()] * len(tests)
        order = range(len(tests))
        self.pending = sorted(order, key=lambda i: not first[i]) if first else list(order)
        self.runs: list[TestRun | None] = [None] * len(tests)
        self.stopped = False
        self.started: float | None = None   # time.monotonic() when the first test was taken
        self._lock = threading.Lock()

    def take(self, has: frozenset) -> int | None:
        with self._lock:
            if self.stopped:
                return None
            mine = [i for i in self.pending if self.needs[i] and self.needs[i] <= has]
            able = mine or [i for i in self.pending if self.needs[i] <= has]
            if not able:
                return None
            self.pending.remove(able[0])
            if self.started is None:
                self.started = time.monotonic()
            return able[0]

    def stop(self) -> None:
        with self._lock:
            self.stopped = True


def run_tests_parallel(stage: Path, pool: TestPool, cfgs: list[RunConfig],
                       progress=None) -> tuple[list[TestRun], list[str]]:
    """Run one submission's tests on ``len(cfgs)`` workers at once (each its own process,
    slot, uid and cgroup; ``cfgs[k].preload`` says what worker k can run), every test in a
    fresh fork as with one worker, so each result is the one a single worker gives; the runs
    come back in the declared order. The submission's budget runs from one start for all."""
    layers: list[list[str]] = [[] for _ in cfgs]
    failed: list[BaseException] = []

    def work(k: int) -> None:
        try:
            layers[k] = drain(stage, pool, cfgs[k], progress)
        except BaseException as err:  # noqa: BLE001 - Ctrl-C (Cancelled) too: stop the others
            pool.stop()
            failed.append(err)

    threads = [threading.Thread(target=work, args=(k,), daemon=True) for k in range(len(cfgs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if failed:
        raise failed[0]
    for i, run in enumerate(pool.runs):
        if run is None:   # a grader bug (no worker had what the test needs), not the student's
            pool.runs[i] = TestRun(pool.tests[i].name, "crashed", detail="internal error in the "
                                   "grader: no worker preloaded what this test needs "
                                   f"({', '.join(sorted(pool.needs[i]))})")
    return pool.runs, layers[0]


def run_tests(stage: Path, tests: list[Test], cfg: RunConfig,
              progress=None) -> tuple[list[TestRun], list[str]]:
    """Run every test of one submission in one worker. Returns the runs and the active layers."""
    pool = TestPool(tests)
    layers = drain(stage, pool, cfg, progress)
    return pool.runs, layers
