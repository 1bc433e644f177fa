"""One interface over the three ways the kit runs scenarios on a staged package.

    SandboxedRunner   student code: one worker process per submission, in every isolation
                      layer the machine offers, one forked child per test (driver.py)
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
import sys
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Protocol

from autograder.authoring.declare import Test
from autograder.authoring.registry import KIT_ROOT
from autograder.engine import sandbox
from autograder.engine.driver import RunConfig, run_tests
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
