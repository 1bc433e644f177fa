"""Stage 2, the parent's side: drive one sandboxed worker through a list of tests.

For each test the parent makes a fresh output folder, sends the test's spec (scenario name,
params, seed: never expected outputs), waits for the worker's "done" line under the test's
wall-clock limit, and reads the output *files* through ``outputs.read_outputs``. The line
itself is only a wake-up call: nothing in it is trusted but a per-test nonce, so a forged
line cannot end a later test early. While a test runs, the parent also watches the size of
the output folder (the only host folder the worker can write) and stops a test that floods
it. A timeout or a dead worker costs the test that was running; the worker is killed with its
whole tree and restarted for the rest.
"""
from __future__ import annotations

import json
import os
import queue
import secrets
import selectors
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from autograder.authoring.declare import Test
from autograder.engine import sandbox
from autograder.engine.records import TestRun
from autograder.engine.wire import OutputError, loads_shallow, read_outputs
from autograder.engine.readback import (DISK_POLL_S, disk_usage, empty, read_capped, signal_detail,
                                         tail)
from autograder.engine.worker import ERROR_FILE, REACHED_FILE
from autograder.errors import KitError

STARTUP_TIMEOUT = 120.0
BUDGET_EXHAUSTED = "submission time budget exhausted"
MAX_CHATTER = 1 << 20  # bytes of stdout tolerated from a worker per test before it is killed


@dataclass
class RunConfig:
    package: str                # "a3_rnn"
    kit: Path                   # folder holding the public lmcore/ and autograder/
    preload: tuple[str, ...] = ("numpy",)
    limits: sandbox.Limits = field(default_factory=sandbox.Limits)
    sandboxed: bool = True      # False for the trusted reference
    strict: bool = False
    slot: int = 0
    warm: bool = False          # call the scenarios' warm() before forking (shared trusted data)
    trace: bool = False         # the trusted reference only: record which functions each test calls


class Worker:
    """One worker process for one submission (restarted after a timeout or crash)."""

    def __init__(self, stage: Path, cfg: RunConfig, workdir: Path):
        self.stage, self.cfg, self.workdir = stage, cfg, workdir
        self.proc: subprocess.Popen | None = None
        self.layers = sandbox.plan(cfg.slot, cfg.strict) if cfg.sandboxed else sandbox.Layers()
        self.out = workdir / "out"
        self.cwd = workdir / "cwd"
        self._buf = b""
        self._eof = False
        self.starts = 0

    # -- lifecycle --------------------------------------------------------------------------
    def start(self) -> None:
        for d in (self.out, self.cwd):
            d.mkdir(parents=True, exist_ok=True)
        if self.layers.uid is not None:
            for d in (self.out, self.cwd):
                os.chown(d, self.layers.uid, self.layers.uid)
                os.chmod(d, 0o700)
        sandbox.cgroup_create(self.layers, self.cfg.limits)
        wcfg = {
            "package": self.cfg.package, "stage": str(self.stage), "out": str(self.out),
            "cwd": str(self.cwd), "preload": list(self.cfg.preload),
            "memory_bytes": self.cfg.limits.memory_mb * 2**20 if self.cfg.sandboxed else 0,
            "fsize_bytes": self.cfg.limits.fsize_mb * 2**20 if self.cfg.sandboxed else 0,
            "nofile": self.cfg.limits.nofile if self.cfg.sandboxed else 0,
            "nproc": self.cfg.limits.pids,
            # a uid that is this worker's alone: the root uid drop, or the user namespace
            "dedicated_uid": self.layers.uid is not None or self.layers.userns,
            "pid_namespace": self.layers.bwrap, "fork": self.layers.fork, "warm": self.cfg.warm,
            "trace": self.cfg.trace and not self.cfg.sandboxed,
        }
        boot = ("import sys; sys.path[:0] = [sys.argv[1]]; "
                "from autograder.engine.worker import main; main(sys.argv[1:])")
        py = [worker_python(), "-I", "-c", boot, str(self.cfg.kit), json.dumps(wcfg)]
        argv = (sandbox.command(py, self.layers, self.cfg.kit, self.stage, self.out, self.cwd,
                                self.cfg.limits) if self.cfg.sandboxed else py)
        env = dict(sandbox.SCRUBBED_ENV)
        if not self.cfg.sandboxed:
            env["PATH"] = os.environ.get("PATH", env["PATH"])
        self.proc = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            env=env, cwd=str(self.cwd), preexec_fn=sandbox.cgroup_join_fn(self.layers),
            start_new_session=True, close_fds=True)
        self._buf = b""
        self._reader = None if self.layers.fork else _ThreadReader(self.proc.stdout)
        self.starts += 1
        line = self._read_line(STARTUP_TIMEOUT)
        if line is None or not line.get("ready"):
            code = self.proc.poll()
            self.stop()
            raise WorkerStartError(f"the worker did not start (exit code {code}); "
                                   "run `python -m autograder doctor` to check the sandbox")

    def restage(self) -> None:
        """The stage folder holds another version of the same submission's files: a running
        worker compiles them and empties its working folder (a notebook's next check); one
        that is not running starts fresh on its next test anyway."""
        if self.proc is None or self.proc.poll() is not None or not self.layers.fork:
            return
        nonce = secrets.token_hex(8)
        try:
            self.proc.stdin.write((json.dumps({"op": "restage", "nonce": nonce}) + "\n").encode())
            self.proc.stdin.flush()
        except OSError:
            self.stop()
            return
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while (left := deadline - time.monotonic()) > 0:
            line = self._read_line(left)
            if line is not None and line.get("restaged") == nonce:
                return
            if line is None and self._eof:
                break
        self.stop()   # no answer: the next test starts a fresh worker

    def stop(self) -> None:
        if self.proc is not None:
            try:
                if self.proc.poll() is None and self.proc.stdin:
                    self.proc.stdin.close()
            except OSError:
                pass
            sandbox.kill_all(self.proc, self.layers)
            for f in (self.proc.stdout,):
                try:
                    f.close()
                except OSError:
                    pass
            self.proc = None
        sandbox.cgroup_remove(self.layers)

    # -- one test ---------------------------------------------------------------------------
    def run(self, test: Test, index: int, budget_end: float | None = None) -> TestRun:
        """Run one test; ``budget_end``: the time.monotonic() at which the submission's budget
        runs out (it cuts the test's own wall-clock limit when sooner)."""
        run = self._run(test, index, budget_end)
        if not self.layers.fork:
            self.stop()  # no fork here: every test gets a fresh worker process
        return run

    def _run(self, test: Test, index: int, budget_end: float | None) -> TestRun:
        if self.proc is None or self.proc.poll() is not None:
            self.stop()
            self.start()
        d = f"t{index:03d}"
        tdir = self.out / d
        empty(self.out)  # earlier tests' files are read; whatever else is there is junk
        tdir.mkdir()
        if self.layers.uid is not None:
            os.chown(tdir, self.layers.uid, self.layers.uid)
        # The nonce makes a "done" line unforgeable for any test but the one running: a
        # student who writes fake lines into the worker's pipe cannot end a later test early.
        nonce = secrets.token_hex(8)
        cmd = dict(test.spec(), dir=d, nonce=nonce)
        start = time.monotonic()
        try:
            self.proc.stdin.write((json.dumps(cmd) + "\n").encode())
            self.proc.stdin.flush()
        except OSError:
            self.stop()
            return TestRun(test.name, "crashed", detail="the worker died before the test started",
                           seconds=0.0)
        budget_cut = budget_end is not None and budget_end < start + test.timeout
        deadline = budget_end if budget_cut else start + test.timeout
        done = None
        too_big = False
        self._eof = False
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            line = self._read_line(min(remaining, DISK_POLL_S))
            if line is not None:
                if line.get("done") == d and line.get("nonce") == nonce:
                    done = line
                    break
                continue
            if self._eof:
                break
            # RLIMIT_FSIZE caps one file; this caps them all (file after file, on the host)
            if disk_usage([self.out, self.cwd]) > self.cfg.limits.disk_mb * 2**20:
                too_big = True
                break
        seconds = time.monotonic() - start
        if too_big:
            self.stop()
            empty(self.out)
            empty(self.cwd)
            return TestRun(test.name, "crashed", seconds=seconds,
                           detail=f"the test wrote more than {self.cfg.limits.disk_mb} MB of files")
        if done is None:
            alive = self.proc is not None and self.proc.poll() is None
            oom = sandbox.cgroup_oom_killed(self.layers)
            self.stop()
            if alive and time.monotonic() >= deadline and budget_cut:
                return TestRun(test.name, "timeout", seconds=seconds, log_tail=self._tail(tdir),
                               detail=f"{BUDGET_EXHAUSTED} ({self.cfg.limits.budget_s:g} s for "
                                      "the whole submission) while this test ran")
            if alive and time.monotonic() >= deadline:
                return TestRun(test.name, "timeout", seconds=seconds, log_tail=self._tail(tdir),
                               detail=f"no result after {test.timeout:g} s (wall clock)")
            why = "the worker was killed by the memory limit" if oom else "the worker died"
            return TestRun(test.name, "crashed", detail=why, seconds=seconds, log_tail=self._tail(tdir))
        return self._collect(test, tdir, done, seconds)

    def _tail(self, tdir: Path) -> str:
        # paths into the staged copy made relative ("a2_window/layers.py:190"): the temporary
        # folder means nothing to a student and would make two gradings' feedback differ
        return tail(tdir).replace(str(self.stage) + os.sep, "")

    def _collect(self, test: Test, tdir: Path, done: dict, seconds: float) -> TestRun:
        log = self._tail(tdir)
        err_file = tdir / ERROR_FILE
        if err_file.is_file() and not err_file.is_symlink():
            try:
                err = loads_shallow(read_capped(err_file, 64 * 1024), max_depth=4)
                err = {k: err.get(k) for k in ("type", "message", "not_implemented",
                                               "student_traceback")}
                err["type"] = str(err["type"])[:100]
                err["message"] = str(err["message"])[:4000]
                err["not_implemented"] = err["not_implemented"] is True
                err["student_traceback"] = [str(x)[:500] for x in (err["student_traceback"] or [])][:8]
            except (ValueError, OSError, TypeError, AttributeError, RecursionError):
                err = {"type": "Error", "message": "the test failed (its error report was "
                       "unreadable)", "not_implemented": False, "student_traceback": []}
            return TestRun(test.name, "error", error=err, seconds=seconds, log_tail=log)
        how, code = done.get("how"), done.get("code")
        if how == "signal":
            return TestRun(test.name, "crashed", seconds=seconds, log_tail=log,
                           detail=signal_detail(code))
        try:
            outputs = read_outputs(tdir)
        except OutputError as err:
            if "wrote no outputs" in str(err):
                return TestRun(test.name, "no-output", seconds=seconds, log_tail=log,
                               detail=f"the test process exited (code {code}) without returning")
            return TestRun(test.name, "bad-output", seconds=seconds, log_tail=log, detail=str(err))
        run = TestRun(test.name, "ok", outputs=outputs, seconds=seconds, log_tail=log)
        if self.cfg.trace and not self.cfg.sandboxed:
            # read back only from the trusted reference: a submission could write anything there
            run.reached = [tuple(x) for x in json.loads((tdir / REACHED_FILE).read_text())]
        return run

    # -- the pipe ---------------------------------------------------------------------------
    def _read_line(self, timeout: float) -> dict | None:
        """The next JSON line from the worker, or None on timeout/EOF; junk is skipped."""
        if self.proc is None:
            return None
        if self._reader is not None:
            return self._reader_line(timeout)
        deadline = time.monotonic() + timeout
        fd = self.proc.stdout.fileno()
        chatter = 0
        with selectors.DefaultSelector() as sel:
            sel.register(fd, selectors.EVENT_READ)
            while True:
                while b"\n" in self._buf:
                    raw, self._buf = self._buf.split(b"\n", 1)
                    msg = _message(raw)
                    if msg is not None:
                        return msg
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                if not sel.select(remaining):
                    return None
                chunk = os.read(fd, 65536)
                if not chunk:
                    self._eof = True
                    return None
                chatter += len(chunk)
                if chatter > MAX_CHATTER:
                    self._eof = True
                    return None
                self._buf = (self._buf + chunk)[-MAX_CHATTER:]


    def _reader_line(self, timeout: float) -> dict | None:
        """``_read_line`` through a reader thread: pipes cannot be select()ed on Windows, and
        the Linux tests force this path (LMKIT_SANDBOX_LAYERS=-fork) to keep it honest."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            try:
                raw = self._reader.lines.get(timeout=remaining)
            except queue.Empty:
                return None
            if raw is None:
                self._eof = True
                return None
            msg = _message(raw)
            if msg is not None:
                return msg


def _message(raw: bytes) -> dict | None:
    """One line of the worker's stdout as its JSON message, or None for anything else (what
    student code prints, a cut line): the readers skip junk rather than fail on it."""
    try:
        msg = loads_shallow(raw.decode("utf-8", "replace"), max_depth=2)
    except ValueError:
        return None
    return msg if isinstance(msg, dict) else None


class _ThreadReader:
    """Reads a worker's stdout into a queue of lines (None at EOF), at most MAX_CHATTER bytes."""

    def __init__(self, stream):
        self.lines: queue.Queue = queue.Queue()
        self._t = threading.Thread(target=self._pump, args=(stream,), daemon=True)
        self._t.start()

    def _pump(self, stream):
        total = 0
        try:
            for raw in iter(lambda: stream.readline(MAX_CHATTER), b""):
                total += len(raw)
                if total > 64 * MAX_CHATTER:
                    break
                self.lines.put(raw)
        except (OSError, ValueError):
            pass
        self.lines.put(None)


def worker_python() -> str:
    """This interpreter, by a path that exists inside the sandbox: ``..`` removed (started as
    ``../../.venv/bin/python`` from a notebook's folder), symlinks kept (a venv is found by
    the path it was started with)."""
    return os.path.normpath(os.path.abspath(sys.executable))


class WorkerStartError(KitError):
    pass


def drain(stage: Path, pool, cfg: RunConfig, progress) -> list[str]:
    """One worker takes tests from ``pool`` (pool.TestPool) until none is left that it can
    run. Returns the active layers. The submission's budget runs from the moment its first
    test was taken, by whichever worker."""
    with tempfile.TemporaryDirectory(prefix="lmkit-w-") as tmp:
        workdir = Path(tmp)
        os.chmod(workdir, 0o755)
        worker = Worker(stage, cfg, workdir)
        try:
            return drain_with(worker, pool, progress)
        finally:
            worker.stop()
            sandbox.release(worker.layers)


def drain_with(worker: Worker, pool, progress) -> list[str]:
    """drain() on a worker the caller keeps (and stops)."""
    cfg = worker.cfg
    has = frozenset(cfg.preload)
    budget = cfg.limits.budget_s if cfg.sandboxed else None
    while (i := pool.take(has)) is not None:
        test = pool.tests[i]
        end = pool.started + budget if budget else None
        if end is not None and time.monotonic() >= end:
            run = TestRun(test.name, "timeout", detail=f"{BUDGET_EXHAUSTED} ({budget:g} "
                          "s for the whole submission) before this test started")
        else:
            try:
                run = worker.run(test, i, end)
            except WorkerStartError as err:
                run = TestRun(test.name, "crashed", detail=str(err))
        pool.runs[i] = run
        if progress:
            progress(test, run)
    return worker.layers.active + [f"note: {n}" for n in worker.layers.notes]
