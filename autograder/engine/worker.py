"""The worker: the only process that runs student code, inside the sandbox.

It is started once per submission (``driver.py`` builds the command, ``sandbox.py`` wraps it),
imports the heavy libraries once, and then for each test it is told to run:

  1. forks a child (so ``import torch`` is paid once, and a crash costs one test);
  2. in the child: stdout/stderr go to a per-test log, resource limits are set, the
     student's package is imported *lazily* (a broken module costs only the tests that use
     it), the scenario runs, and its outputs are written as files (``wire.py``);
  3. after the child ends, every other process the child left behind is killed.

The worker never sees expected outputs, scores or judges. It reports "test done" on stdout,
but that line carries no result: the parent reads and validates the output files itself.
This module imports only the standard library at the top so the fallback runner works anywhere.
"""
from __future__ import annotations

import contextlib
import gc
import importlib
import json
import operator
import os
import shutil
import signal
import sys
import time
import traceback
from itertools import repeat
from pathlib import Path

from autograder.engine import dynamo_deferral
from autograder.engine.precompiled import Precompiled

ERROR_FILE = "error.json"
REACHED_FILE = "reached.json"   # trusted reference runs only: see _calls_into
LOG_FILE = "log.txt"

# Modules whose attributes student code must leave alone: what the scenarios compute with and
# what writes their outputs. Snapshotted in the worker before any student code runs, checked
# after each scenario; a replaced numpy.allclose, builtins.isinstance, outputs.write_outputs or
# scenario function makes the test an error instead of a forged pass.
PROTECTED = ("builtins", "math", "json", "numpy", "torch", "torch.nn", "torch.nn.functional",
             "torch.nn.utils")
PROTECTED_PREFIXES = ("numpy.", "autograder.", "lmcore.")
_SNAPSHOT: list = []


class LazyPackage:
    """What a scenario gets as ``sub``: ``sub.<module>`` imports that module of the package under
    test on first use, so a broken module costs only the tests that use it."""

    def __init__(self, package: str):
        self._package = package

    def __getattr__(self, name: str):
        if name.startswith("_"):
            raise AttributeError(name)
        return importlib.import_module(f"{self._package}.{name}")


def _set_limits(cfg: dict, timeout: float) -> None:
    try:
        import resource
    except ImportError:  # Windows: the parent's timeout is the only limit
        return

    def lim(which, value):
        try:
            soft, hard = resource.getrlimit(which)
            value = int(value)
            if hard != resource.RLIM_INFINITY:
                value = min(value, hard)
            resource.setrlimit(which, (value, value if hard == resource.RLIM_INFINITY else hard))
        except (ValueError, OSError):
            pass  # macOS refuses some limits (RLIMIT_AS): the parent's timeout still applies

    lim(resource.RLIMIT_CPU, int(timeout) + 2)
    if cfg.get("memory_bytes"):
        lim(resource.RLIMIT_AS, _vm_size() + cfg["memory_bytes"])
    if cfg.get("fsize_bytes"):
        lim(resource.RLIMIT_FSIZE, cfg["fsize_bytes"])
    if cfg.get("nofile"):
        lim(resource.RLIMIT_NOFILE, cfg["nofile"])
    if cfg.get("nproc") and cfg.get("dedicated_uid"):
        lim(resource.RLIMIT_NPROC, cfg["nproc"])


def _vm_size() -> int:
    """Current virtual size: the memory limit is added on top of what is already mapped
    (torch alone maps gigabytes of address space it never touches)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmSize:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


_SKIP = frozenset(("__warningregistry__", "__dict__", "__weakref__"))
# What the tamper check calls, bound now: graded code that replaces builtins.any or
# builtins.vars must not blind the check that looks for exactly that.
_any, _map, _zip, _vars, _setattr, _is_not = any, map, zip, vars, setattr, operator.is_not
_getattr, _dict = getattr, dict


def _snapshot() -> list:
    """(name, owner, keys, values) of every protected namespace, as it is before student code."""
    snap = []

    def add(name, owner, namespace):
        keys = tuple(k for k in namespace if k not in _SKIP)
        snap.append((name, owner, keys, tuple(namespace[k] for k in keys)))

    for name, m in list(sys.modules.items()):
        if m is None or not (name in PROTECTED or name.startswith(PROTECTED_PREFIXES)
                             or name in ("autograder", "lmcore")):
            continue
        live = vars(m)
        add(name, m, live)
        for key, v in list(live.items()):
            # classes defined in Python in these modules (lmcore.vocab.Vocab, ...)
            if isinstance(v, type) and v.__module__ == name:
                add(f"{name}.{key}", v, v.__dict__)
    return snap


def _tampered(restore: bool = False) -> list[str]:
    """Names of protected attributes that were replaced or deleted; with ``restore``, put
    them back (so that the worker's own error report runs on the real builtins). Runs after
    every test: the comparison of each namespace is one pass in C, and only a namespace that
    changed is looked at name by name."""
    changed = []
    for name, owner, keys, values in _SNAPSHOT:
        live = _vars(owner)
        if not _any(_map(_is_not, _map(live.get, keys, repeat(_SKIP)), values)):
            continue
        for key, v in _zip(keys, values):
            now = live.get(key, _SKIP)
            if now is not v and not dynamo_deferral.torchs_own_rewrap(now, v):
                changed.append(f"{name}.{key}")
                if restore:
                    try:
                        _setattr(owner, key, v)
                    except (AttributeError, TypeError):
                        pass
    return changed


class Tampering(Exception):
    pass


def _student_frames(tb, package_dir: str) -> list[str]:
    """The traceback lines that point into the student's files (paths made relative)."""
    lines = []
    for fs in traceback.extract_tb(tb):
        if fs.filename.startswith(package_dir):
            rel = os.path.relpath(fs.filename, os.path.dirname(package_dir))
            lines.append(f'  File "{rel}", line {fs.lineno}, in {fs.name}\n    {fs.line or ""}')
    return lines[-6:]


def _child(cmd: dict, cfg: dict, outdir: Path) -> None:
    """Runs in the forked child: never returns."""
    code = 0
    try:
        os.setpgid(0, 0)
        fd = os.open(outdir / LOG_FILE, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        _set_limits(cfg, cmd["timeout"])
        sys.stdout = os.fdopen(1, "w", buffering=1, closefd=False)
        sys.stderr = os.fdopen(2, "w", buffering=1, closefd=False)
        run_scenario(cmd, cfg, outdir)
    except BaseException:  # noqa: BLE001 - the child must always reach os._exit
        code = 3
    finally:
        os._exit(code)


def run_scenario(cmd: dict, cfg: dict, outdir: Path) -> None:
    """Run one test's scenario in this process and leave its outputs (or error.json) in
    ``outdir``. The forked child calls it; so does the kit's in-process test harness."""
    from autograder.engine.wire import write_outputs
    import numpy as np

    seed = int(cmd["seed"])
    np.random.seed(seed % 2**32)  # legacy global state too, so careless code is still repeatable
    import random
    random.seed(seed)
    if "torch" in sys.modules:
        sys.modules["torch"].manual_seed(seed)
    rng = np.random.default_rng(seed)
    scenarios = importlib.import_module(f"autograder.suites.{cfg['package']}.scenarios")
    package_dir = str(Path(cfg["stage"]) / cfg["package"])
    me = os.getpid()
    try:
        fn = getattr(scenarios, cmd["scenario"])
        with _calls_into(package_dir, outdir) if cfg.get("trace") else contextlib.nullcontext():
            result = fn(LazyPackage(cfg["package"]), rng, **cmd["params"])
        if os.getpid() != me:  # a process the student forked: only the test's own reports
            os._exit(0)
        changed = _tampered(restore=True)
        if changed:
            raise Tampering(f"the graded code replaced {', '.join(changed[:5])}"
                            + (f" and {len(changed) - 5} more" if len(changed) > 5 else "")
                            + ": graded code may not modify numpy, the builtins or the "
                              "grader, so this test cannot be trusted and gets no credit")
        write_outputs(result, outdir)
    except BaseException as err:  # noqa: BLE001 - SystemExit and KeyboardInterrupt are results too
        if os.getpid() != me:
            os._exit(3)
        _tampered(restore=True)
        info = {
            "type": type(err).__name__,
            "message": _safe_str(err)[:4000],
            "not_implemented": isinstance(err, NotImplementedError),
            "student_traceback": _student_frames(err.__traceback__, package_dir),
            "where": "scenario",
        }
        if isinstance(err, SystemExit):
            info["message"] = f"the code called sys.exit({err.code!r})"
        tmp = outdir / (ERROR_FILE + ".tmp")
        tmp.write_text(json.dumps(info))
        os.replace(tmp, outdir / ERROR_FILE)


@contextlib.contextmanager
def _calls_into(package_dir: str, outdir: Path):
    """Record every function of the graded package that the scenario calls, as (file name,
    qualified name), into ``outdir/reached.json``. Only the trusted reference is traced (verify
    uses it to know which tests an example's edits can reach); a global trace function that
    returns None sees each call and costs nothing per line."""
    import threading
    prefix = package_dir + os.sep
    seen: set = set()

    def tracer(frame, event, arg):
        if frame.f_code.co_filename.startswith(prefix):
            seen.add(frame.f_code)
        return None

    sys.settrace(tracer)
    threading.settrace(tracer)
    try:
        yield
    finally:
        sys.settrace(None)
        threading.settrace(None)   # type: ignore[arg-type]
        reached = sorted({(Path(c.co_filename).name, c.co_qualname) for c in seen})
        (outdir / REACHED_FILE).write_text(json.dumps(reached))


def _safe_str(err: BaseException) -> str:
    try:
        return str(err)
    except Exception:  # a student exception whose __str__ raises
        return f"<{type(err).__name__} whose message could not be printed>"


def _reap(pid: int, cfg: dict) -> tuple[str, int]:
    """Wait for the test's child; then kill anything it left (daemons, threads' processes)."""
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        result = ("signal", os.WTERMSIG(status))
    else:
        result = ("exit", os.WEXITSTATUS(status))
    _kill_leftovers(pid, cfg)
    return result


def _kill_leftovers(pid: int, cfg: dict) -> None:
    if cfg.get("dedicated_uid") or cfg.get("pid_namespace"):
        # Every process this uid (or this PID namespace) can signal belongs to this worker:
        # kill(-1) reaches setsid() escapees that a process-group kill would miss.
        for _ in range(50):
            try:
                os.kill(-1, signal.SIGKILL)
            except ProcessLookupError:
                break
            except PermissionError:
                break
            try:
                while os.waitpid(-1, os.WNOHANG)[0] > 0:
                    pass
            except ChildProcessError:
                pass
            time.sleep(0.002)
    else:
        try:
            os.killpg(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def _run_inline(cmd: dict, cfg: dict, outdir: Path) -> tuple[str, int]:
    """No fork (macOS, Windows): run the test in this process, which the parent then ends
    (a fresh worker per test); a crash ends the worker too."""
    log = open(outdir / LOG_FILE, "w", encoding="utf-8", errors="replace")
    saved = sys.stdout, sys.stderr
    sys.stdout = sys.stderr = log
    try:
        _set_limits(cfg, float(cmd.get("timeout", 30)))
        run_scenario(cmd, cfg, outdir)
    finally:
        sys.stdout, sys.stderr = saved
        log.close()
    return ("exit", 0)


def _not_dumpable() -> None:
    """Linux: /proc/<worker>/fd becomes root's, so student code running as the same uid (no
    uid drop) cannot open the worker's pipes to forge commands or "done" lines."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes
        ctypes.CDLL(None, use_errno=True).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE, 0
    except (OSError, AttributeError):
        pass


def _empty_folder(folder: Path) -> None:
    """Remove what the last run left in ``folder``, a folder its test made unreadable too."""
    for entry in folder.iterdir():
        try:
            if entry.is_dir() and not entry.is_symlink():
                entry.chmod(0o700)
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink()
        except OSError:
            pass


def main(argv: list[str] | None = None) -> None:
    cfg = json.loads((argv or sys.argv)[1])
    _not_dumpable()
    sys.path[:0] = [cfg["stage"]]
    os.chdir(cfg.get("cwd") or cfg["stage"])
    # Trusted modules imported once here are inherited by every forked test for free; what
    # a student's package imports (lmcore, importlib.metadata, ...) then costs nothing per test.
    # numpy.random too: numpy 2 imports it lazily, and run_scenario seeds it in every test
    # (45 ms a test when each forked child imports it again).
    kit_modules = ["numpy.random", "lmcore.vocab", "lmcore.corpus", "lmcore.batching",
                   "lmcore.gradcheck", "lmcore.metrics", "lmcore.lm", "importlib.metadata"]
    for name in [*cfg.get("preload", []), *kit_modules]:
        try:
            importlib.import_module(name)
        except ImportError:
            pass
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(1)
        dynamo_deferral.defer()   # optimizers import torch._dynamo for two no-ops: 2 s a worker
    scenarios = importlib.import_module(f"autograder.suites.{cfg['package']}.scenarios")
    if cfg.get("warm") and hasattr(scenarios, "warm"):
        # trusted data every test of this run shares (a parsed corpus), loaded once before any
        # student code runs and inherited by each forked test
        try:
            scenarios.warm()
        except Exception:  # noqa: BLE001 - the tests that need it will report the failure
            pass
    import autograder.engine.wire  # noqa: F401 - imported before any fork, once
    sys.meta_path.insert(0, Precompiled(cfg["package"], Path(cfg["stage"]) / cfg["package"]))
    _SNAPSHOT[:] = _snapshot()
    dynamo_deferral.note_wrapper()
    gc.freeze()   # a forked test's collections skip what is here, and leave its pages shared
    out = sys.stdout
    out.write(json.dumps({"ready": True}) + "\n")
    out.flush()
    for line in sys.stdin:
        cmd = json.loads(line)
        if cmd.get("op") == "quit":
            break
        if cmd.get("op") == "restage":
            # the stage folder now holds other files (a notebook's next check, verify's next
            # known example): compile those, and keep nothing of the last run's files
            sys.meta_path[:] = [f for f in sys.meta_path if not isinstance(f, Precompiled)]
            sys.meta_path.insert(0, Precompiled(cfg["package"], Path(cfg["stage"]) / cfg["package"]))
            importlib.invalidate_caches()
            _empty_folder(Path.cwd())
            if cfg.get("pid_namespace"):   # bubblewrap's /tmp is this worker's own
                _empty_folder(Path("/tmp"))
            out.write(json.dumps({"restaged": cmd.get("nonce")}) + "\n")
            out.flush()
            continue
        outdir = Path(cfg["out"]) / cmd["dir"]
        start = time.monotonic()
        if cfg.get("fork", True) and hasattr(os, "fork"):
            pid = os.fork()
            if pid == 0:
                _child(cmd, cfg, outdir)
            how, code = _reap(pid, cfg)
        else:
            how, code = _run_inline(cmd, cfg, outdir)
        out.write(json.dumps({"done": cmd["dir"], "nonce": cmd.get("nonce"), "how": how, "code": code,
                              "seconds": round(time.monotonic() - start, 4)}) + "\n")
        out.flush()


if __name__ == "__main__":
    main()
