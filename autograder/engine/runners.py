"""One interface over the three ways the kit runs scenarios on a staged package.

    SandboxedRunner   student code: one worker process per submission, in every isolation
                      layer the machine offers, one forked child per test (driver.py)
    ParallelRunner    the same on several workers at once, sharing one submission's tests
                      (a student's ``check``, graded alone)
    KeptRunner        the same with the worker kept between runs of one student's files
                      (a notebook's ``check()`` calls)
    ReferenceRunner   the trusted reference: the same worker without the sandbox, over the
                      kit itself (expected outputs are computed this way)
    InProcessRunner   the kit's own tests: the worker's ``run_scenario`` in this process, no
                      fork, no limits; milliseconds per test, for trusted code only

Each takes ``(staged, tests, progress)`` and returns a ``RunReport``: one ``TestRun`` per test,
in order, and the isolation layers that were active. The judge never knows which ran.
"""
from __future__ import annotations

import contextlib
import importlib
import json
import os
import shutil
import sys
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Protocol

from autograder.authoring.declare import Test
from autograder.authoring.registry import KIT_ROOT, Assignment
from autograder.engine import sandbox
from autograder.engine.driver import RunConfig, Worker, drain_with
from autograder.engine.pool import TestPool, run_tests, run_tests_parallel
from autograder.engine.records import TestRun
from autograder.engine.wire import read_outputs
from autograder.engine.worker import ERROR_FILE, run_scenario

Progress = Callable[[Test, TestRun], None]


@dataclass
class RunReport:
    runs: list[TestRun]
    layers: list[str] = field(default_factory=list)


class Runner(Protocol):
    def run(self, staged: Path, tests: list[Test], progress: Progress | None = None) -> RunReport: ...


@dataclass
class SandboxedRunner:
    package: str                       # "a3_rnn"
    kit: Path                          # the public kit (staging.public_kit) the worker mounts
    preload: tuple[str, ...] = ("numpy",)
    limits: sandbox.Limits = field(default_factory=sandbox.Limits)
    sandboxed: bool = True             # False only for benchmarks of the sandbox's own cost
    strict: bool = False
    slot: int = 0
    warm: bool = False

    def run(self, staged: Path, tests: list[Test], progress: Progress | None = None) -> RunReport:
        cfg = RunConfig(package=self.package, kit=self.kit, preload=self.preload,
                        limits=self.limits, sandboxed=self.sandboxed, strict=self.strict,
                        slot=self.slot, warm=self.warm)
        runs, layers = run_tests(staged, tests, cfg, progress=progress)
        return RunReport(runs, layers)


@dataclass
class ParallelRunner:
    """SandboxedRunner's tests on ``workers`` sandboxed workers at once (a student's
    ``check``; a grading batch already keeps the cores busy with one worker per submission).
    Worker 0 preloads everything the tests need; the others leave out what only some tests
    need (PRELOAD_WHEN: a5's torch), which costs more to import than those tests take
    to run, and take the other tests meanwhile. The long tests (on the real corpus, WARM_WHEN;
    LONG_SCENARIOS) start first."""
    assignment: Assignment
    kit: Path
    workers: int = 2
    limits: sandbox.Limits = field(default_factory=sandbox.Limits)
    sandboxed: bool = True
    strict: bool = False
    slot: int = 0

    def configs(self, tests: list[Test]) -> list[RunConfig]:
        a = self.assignment
        cheap = [t for t in tests if not a.costly_for(t)]
        warm = a.warm_for(tests)
        return [RunConfig(package=a.name, kit=self.kit,
                          preload=a.preload_for(tests if k == 0 else cheap),
                          limits=self.limits, sandboxed=self.sandboxed, strict=self.strict,
                          slot=self.slot + k, warm=warm)
                for k in range(max(1, min(self.workers, len(tests))))]

    def run(self, staged: Path, tests: list[Test], progress: Progress | None = None) -> RunReport:
        a = self.assignment
        pool = TestPool(tests, [frozenset(a.costly_for(t)) for t in tests],
                        first=[a.starts_first(t) for t in tests])
        runs, layers = run_tests_parallel(staged, pool, self.configs(tests), progress=progress)
        return RunReport(runs, layers)


class KeptRunner:
    """SandboxedRunner with a worker that outlives the run. A notebook checks the same
    student's files after every part, and a fresh worker would pay its start each time
    (torch's import, about 2 s; a1's corpus). The package is staged into the one folder the
    worker mounts (``stage_dir``); before each later run the worker compiles the new files
    and empties its working folder, and every test still runs in a fresh fork, so a run gives
    what a fresh worker gives. A run that needs more preloaded than the worker has (a5's torch
    parts, a1's corpus) replaces it by one that has it. For one student's own files, and for
    the kit's own known examples (verify): a batch of students' submissions, or of hostile
    examples, never shares a worker."""

    def __init__(self, assignment: Assignment, kit: Path, limits: sandbox.Limits | None = None,
                 sandboxed: bool = True, strict: bool = False, slot: int = 0):
        self.assignment, self.kit = assignment, Path(kit)
        self.limits = limits or sandbox.Limits()   # may change between runs (a new worker then)
        self.sandboxed, self.strict, self.slot = sandboxed, strict, slot
        self._tmp = tempfile.TemporaryDirectory(prefix="lmkit-kept-")
        os.chmod(self._tmp.name, 0o755)
        self.stage_dir = Path(self._tmp.name) / "stage"
        self._workdir = Path(self._tmp.name) / "worker"
        self.worker: Worker | None = None
        self._past_starts = 0

    def run(self, staged: Path, tests: list[Test], progress: Progress | None = None) -> RunReport:
        if Path(staged) != self.stage_dir:
            raise ValueError(f"KeptRunner runs what is staged in its stage_dir ({self.stage_dir}), "
                             f"not {staged}")
        a = self.assignment
        preload, warm = a.preload_for(tests), a.warm_for(tests)
        kept = self.worker
        if kept is not None and (not set(preload) <= set(kept.cfg.preload) or warm > kept.cfg.warm
                                 or kept.cfg.limits != self.limits):
            self.stop_worker()
        if self.worker is None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir.mkdir()
            os.chmod(self._workdir, 0o755)
            cfg = RunConfig(package=a.name, kit=self.kit, preload=preload, limits=self.limits,
                            sandboxed=self.sandboxed, strict=self.strict, slot=self.slot,
                            warm=warm)
            self.worker = Worker(self.stage_dir, cfg, self._workdir)
        else:
            self.worker.restage()
        pool = TestPool(tests)
        layers = drain_with(self.worker, pool, progress)
        return RunReport(pool.runs, layers)

    @property
    def starts(self) -> int:
        """Worker processes started so far (a crash or a timeout restarts one)."""
        return self._past_starts + (self.worker.starts if self.worker is not None else 0)

    def stop_worker(self) -> None:
        if self.worker is not None:
            self._past_starts += self.worker.starts
            self.worker.stop()
            sandbox.release(self.worker.layers)
            self.worker = None

    def close(self) -> None:
        self.stop_worker()
        self._tmp.cleanup()


@dataclass
class ReferenceRunner:
    package: str
    preload: tuple[str, ...] = ("numpy",)
    warm: bool = False
    trace: bool = False                # fill each TestRun's ``reached`` (instructor/reach.py)

    def run(self, staged: Path, tests: list[Test], progress: Progress | None = None) -> RunReport:
        cfg = RunConfig(package=self.package, kit=KIT_ROOT, preload=self.preload,
                        sandboxed=False, warm=self.warm, trace=self.trace)
        runs, _ = run_tests(staged, tests, cfg, progress=progress)
        return RunReport(runs, ["trusted reference: no sandbox"])


@dataclass
class InProcessRunner:
    """The staged package is imported under its own name (``a1_ngram``) for one scenario at a
    time; whatever was imported under that name before is put back afterwards, so the
    reference and a submission can take turns in one process."""
    package: str

    def run(self, staged: Path, tests: list[Test], progress: Progress | None = None) -> RunReport:
        runs = []
        with tempfile.TemporaryDirectory(prefix="lmkit-inproc-") as tmp:
            for t in tests:
                runs.append(self._one(t, staged, Path(tmp)))
                if progress:
                    progress(t, runs[-1])
        return RunReport(runs, ["in-process: no isolation (trusted code only)"])

    def _one(self, test: Test, staged: Path, tmp: Path) -> TestRun:
        out = Path(tempfile.mkdtemp(dir=tmp, prefix=f"{test.name}-"))
        cfg = {"package": self.package, "stage": str(staged)}
        # the worker sends a submission's warnings to the test's log; here they are only noise
        with _imported_as(self.package, staged), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            run_scenario(test.spec(), cfg, out)
        error = out / ERROR_FILE
        if error.exists():
            return TestRun(test.name, "error", error=json.loads(error.read_text()))
        return TestRun(test.name, "ok", outputs=read_outputs(out))


@contextlib.contextmanager
def _imported_as(package: str, stage_dir: Path):
    """``import <package>`` finds ``stage_dir/<package>`` inside the block, as in the worker."""
    def ours(name: str) -> bool:
        return name == package or name.startswith(package + ".")

    saved = {name: sys.modules.pop(name) for name in list(sys.modules) if ours(name)}
    sys.path.insert(0, str(stage_dir))
    importlib.invalidate_caches()
    try:
        yield
    finally:
        sys.path.remove(str(stage_dir))
        for name in [name for name in sys.modules if ours(name)]:
            del sys.modules[name]
        sys.modules.update(saved)
