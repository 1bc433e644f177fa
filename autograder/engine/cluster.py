"""Grade a batch on a Dask distributed cluster: the same sandboxed workers, on other machines.

``grade --jobs N`` (batch.grade_batch) is a thread pool on this machine and stays the default.
``grade --cluster ADDRESS`` sends one Dask task per submission instead; ``--cluster local:N``
starts a ``distributed.LocalCluster`` of N worker processes here (loopback only).

    parent (this process)                      each Dask worker (a trusted grading node)
    ---------------------                      ------------------------------------------
    connect: every worker's kit fingerprint,   node_info(): hash of its kit, its sandbox
      sandbox layers and environment must        layers, its Python/numpy/torch versions
      equal this machine's, or KitMismatch
    scatter one GradingJob to every worker:    first task of a job: a public kit copied from
      tests (hidden ones too), expected          the node's own checkout, one uid slot per
      outputs, limits                            Dask thread
    submit one task per submission  ---------> grade_one(): the same SandboxedRunner and
                                                 judge as the local pool; returns the
    write feedback.md, results.json,  <-------   typed SubmissionResult (nothing written
      record.json: the parent writes every       on the node)
      file, once per submission

Expected outputs and hidden tests go to the Dask workers only (trusted nodes, like this
one); the sandbox on a node sees what it sees locally: the public kit and the submission.

Faults:
  * a Dask worker dies mid-task (KilledWorker): the submission is sent again, to whichever
    worker takes it, at most ``retries`` times; then it gets an internal-error result (empty
    fingerprint, so the next run grades it again). A LocalCluster is started with the
    scheduler's own ``allowed-failures`` at 0, so every retry is one of ours; a cluster you
    started keeps its scheduler's setting (see docs/cluster.md).
  * a student's timeout, crash or memory bomb is a result the node returns: never retried.
  * the scheduler goes away: ClusterLost is raised after writing what had arrived; the next
    run resumes from the record.json files on disk without redoing finished submissions.
  * results are keyed by submission id and fingerprint: a second result for a submission
    already written (a task Dask ran twice) is dropped, never written again.
"""
from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import os
import platform
import queue
import shutil
import socket
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from autograder.authoring import registry
from autograder.authoring.declare import Test
from autograder.engine import sandbox
from autograder.engine.batch import (Cancelled, Grader, _internal_error, load_batch,
                                     tests_hash)
from autograder.engine.records import Submission, SubmissionResult
from autograder.engine.sandbox import Limits
from autograder.engine.staging import public_kit
from autograder.errors import KitError, UsageError
from autograder.reporters import files as result_files
from autograder.reporters.gradebook import write_batch

# What a grading node needs of the kit, and what its fingerprint covers.
KIT_DIRS = ("autograder", "lmcore", "assignments", "solutions")
KIT_FILES = ("pyproject.toml", "requirements.txt")
SKIP_NAMES = ("__pycache__", ".cache", ".pytest_cache")
ENV_PACKAGES = ("numpy", "torch", "dask", "distributed")
DEFAULT_RETRIES = 2
CONNECT_TIMEOUT = 60.0      # for the first worker to join
SCHEDULER_TIMEOUT = 15.0    # for the scheduler to answer


class ClusterUnavailable(KitError):
    """dask is not installed, or the cluster cannot be reached."""


class KitMismatch(KitError):
    """A worker runs another kit, other sandbox layers or another environment."""


class ClusterLost(KitError):
    """The scheduler went away in the middle of a batch."""


# -- what a node is ------------------------------------------------------------------------
def _kit_files(root: Path) -> list[Path]:
    files = [root / f for f in KIT_FILES if (root / f).is_file()]
    for d in KIT_DIRS:
        for dirpath, dirnames, filenames in os.walk(root / d):
            dirnames[:] = sorted(n for n in dirnames if n not in SKIP_NAMES)
            files += [Path(dirpath) / f for f in sorted(filenames) if not f.endswith(".pyc")]
    return files


def kit_fingerprint(root: Path | None = None) -> str:
    """A hash over the kit's code and data (autograder/ with the suites and their expected
    outputs, lmcore/, assignments/, solutions/), by path relative to the kit and content."""
    root = Path(root or registry.KIT_ROOT)
    h = hashlib.sha256()
    for f in _kit_files(root):
        h.update(f.relative_to(root).as_posix().encode() + b"\0" + f.read_bytes() + b"\0")
    return h.hexdigest()[:16]


def environment() -> dict[str, str]:
    env = {"python": platform.python_version()}
    for name in ENV_PACKAGES:
        try:
            env[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            env[name] = "missing"
    return env


def node_info() -> dict[str, Any]:
    """What a node is: run on every Dask worker at connect time (and here, to compare)."""
    return {"host": socket.gethostname(), "pid": os.getpid(), "kit": str(registry.KIT_ROOT),
            "fingerprint": kit_fingerprint(), "layers": sandbox.available_layers(),
            "env": environment()}


def compare_nodes(here: dict, workers: dict[str, dict], strict: bool = False) -> list[str]:
    """One line per way a worker differs, saying what and how to fix it. The kit and the
    environment must be this machine's; the sandbox layers must be the same on every worker
    and include every layer this machine has (a node may not grade in a weaker sandbox
    than the local pool would); ``strict`` also needs bubblewrap and the uid drop there."""
    problems = []
    theirs = [tuple(info.get("layers", [])) for _, info in sorted(workers.items())]
    for addr, info in sorted(workers.items()):
        where = f"worker {addr} (host {info.get('host')}, kit {info.get('kit')})"
        if info.get("fingerprint") != here["fingerprint"]:
            problems.append(
                f"{where}: kit fingerprint {info.get('fingerprint')} differs from this "
                f"machine's {here['fingerprint']} (kit {here['kit']}): start the worker from "
                "a checkout of the same commit with the same edits, or pass --ship-kit to "
                "upload this kit to every worker")
        layers = list(info.get("layers", []))
        missing = [x for x in here["layers"] if x not in layers]
        others = [x for x in theirs[0] if x not in layers] + \
                 [x for x in layers if x not in theirs[0]]
        weak = strict and not any(x.startswith("bwrap") for x in layers) or \
            strict and not any(x.startswith("unprivileged uid") for x in layers)
        if missing or others or weak:
            problems.append(
                f"{where}: sandbox layers {layers}: "
                + (f"lacks {missing}, which this machine has; " if missing else "")
                + (f"other workers differ in {sorted(set(others))}; " if others else "")
                + ("--strict needs bubblewrap and the uid drop; " if weak else "")
                + "run every node the same way (as root, with bubblewrap: apt-get install -y "
                "bubblewrap, cgroup v1) and check with `python -m autograder doctor` there")
        if info.get("env") != here["env"]:
            diff = {k: (here["env"].get(k), info.get("env", {}).get(k))
                    for k in sorted(set(here["env"]) | set(info.get("env", {})))
                    if here["env"].get(k) != info.get("env", {}).get(k)}
            problems.append(
                f"{where}: environment differs (here, there): {diff}: install the same "
                "requirements.txt with requirements.lock as constraints on the node "
                "(`python3 kit.py setup`)")
    return problems


# -- connecting ----------------------------------------------------------------------------
def _distributed():
    try:
        import distributed
    except ImportError as err:
        raise ClusterUnavailable(
            f"--cluster needs dask distributed ({err}): install it with "
            "`python -m pip install 'lmkit[cluster]'` or `python -m pip install "
            "'dask[distributed]'` (requirements.txt pins it), or grade without --cluster") \
            from None
    return distributed


@dataclass
class Cluster:
    """A connected client (and the LocalCluster it started, if any)."""
    client: Any
    local: Any = None
    address: str = ""
    here: dict = field(default_factory=dict)
    workers: dict = field(default_factory=dict)
    allowed_failures: int | None = None

    @property
    def dashboard(self) -> str | None:
        try:
            link = self.client.dashboard_link
        except Exception:
            return None
        return link or None

    def describe(self) -> str:
        n = len(self.workers)
        threads = sum(self.client.nthreads().values()) if self.workers else 0
        return f"Dask cluster {self.address}: {n} worker(s), {threads} thread(s)"

    def close(self) -> None:
        try:
            self.client.close()
        finally:
            if self.local is not None:
                self.local.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def parse_local(address: str) -> int | None:
    """``local:N`` -> N (``local`` alone: 2); anything else -> None."""
    if address == "local":
        return 2
    if address.startswith("local:"):
        try:
            n = int(address.split(":", 1)[1])
        except ValueError:
            n = 0
        if n < 1:
            raise UsageError(f"--cluster {address}: write local:N with N >= 1 worker processes")
        return n
    return None


def connect(address: str, *, ship_kit: bool = False, retries: int = DEFAULT_RETRIES,
            strict: bool = False,
            wait_workers: int = 1, timeout: float = CONNECT_TIMEOUT) -> Cluster:
    """Connect to ``address`` (tcp://host:port, a scheduler file, or local:N), check every
    worker against this machine (KitMismatch), and return the Cluster."""
    distributed = _distributed()
    import dask
    n_local = parse_local(address)
    local = None
    try:
        if n_local is not None:
            # the scheduler's own retries off: every retry after a dead worker is ours
            with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
                local = distributed.LocalCluster(
                    n_workers=n_local, threads_per_worker=1, processes=True,
                    host="127.0.0.1", scheduler_port=0, dashboard_address="127.0.0.1:0",
                    silence_logs=40)
            client = distributed.Client(local, timeout=SCHEDULER_TIMEOUT)
        elif os.path.isfile(address):
            client = distributed.Client(scheduler_file=address, timeout=SCHEDULER_TIMEOUT)
        else:
            client = distributed.Client(address, timeout=SCHEDULER_TIMEOUT)
    except (OSError, TimeoutError) as err:
        if local is not None:
            local.close()
        raise ClusterUnavailable(
            f"--cluster {address}: cannot reach the Dask scheduler ({type(err).__name__}: "
            f"{err}); start it (`dask scheduler`, see docs/cluster.md) and check the address "
            "(tcp://HOST:8786, or the path of its --scheduler-file)") from None
    cl = Cluster(client, local, address)
    try:
        try:
            client.wait_for_workers(wait_workers, timeout=timeout)
        except (TimeoutError, OSError):
            raise ClusterUnavailable(
                f"--cluster {address}: no Dask worker joined within {timeout:.0f} s; start "
                "workers (`dask worker ADDRESS`, see docs/cluster.md)") from None
        cl.here = node_info()
        if ship_kit:
            upload_kit(client, cl.here["fingerprint"])
        replies = client.run(node_info, on_error="return")
        cl.workers = {a: r for a, r in replies.items() if isinstance(r, dict)}
        problems = [
            f"worker {a} cannot load the kit ({type(r).__name__}: {r}): start it with the "
            "kit on its path (cd /srv/lmkit && PYTHONPATH=/srv/lmkit dask worker ...), or "
            "pass --ship-kit to upload this kit to every worker"
            for a, r in sorted(replies.items()) if not isinstance(r, dict)]
        problems += compare_nodes(cl.here, cl.workers, strict)
        try:  # the scheduler unpickles the tasks: it needs the kit importable too
            client.run_on_scheduler(eval, _KIT_ROOT_PROBE)
        except Exception as err:
            problems.append(
                f"the scheduler cannot load the kit ({type(err).__name__}: {err}), and it "
                "must, to read the tasks: start it with the kit on its path "
                "(PYTHONPATH=/srv/lmkit dask scheduler ...), or pass --ship-kit")
        if problems:
            raise KitMismatch("refusing to grade on this cluster:\n  " + "\n  ".join(problems))
        try:  # the scheduler may not have the kit: ask with dask's own function
            cl.allowed_failures = 0 if local is not None else client.run_on_scheduler(
                dask.config.get, "distributed.scheduler.allowed-failures")
        except Exception:
            cl.allowed_failures = None
    except BaseException:
        cl.close()
        raise
    return cl


# on a worker: where its kit is, without importing anything of the kit by reference (a
# worker without the kit could not even unpickle a function of autograder's)
_KIT_ROOT_PROBE = ("__import__('autograder.authoring.registry').authoring.registry"
                   ".KIT_ROOT.as_posix()")


def upload_kit(client, fingerprint: str) -> None:
    """Copy what a node needs of this kit (KIT_DIRS, KIT_FILES) to every worker and to the
    scheduler (which unpickles the tasks) with Dask's UploadDirectory plugin: it is unpacked
    as ``lmkit-<fingerprint>/`` in each nanny's local folder, put first on the worker's
    sys.path, and the workers restart onto it; workers that join later get it too (the
    scheduler keeps the plugin). Needs
    workers started with a nanny (the default of ``dask worker``) and the same environment
    (venv) on every node. Returns when every worker runs the uploaded kit (or after
    CONNECT_TIMEOUT: the fingerprint check then says which one does not)."""
    from distributed.diagnostics.plugin import UploadDirectory
    root = registry.KIT_ROOT
    name = f"lmkit-{fingerprint}"
    n = len(client.scheduler_info().get("workers", {}))
    with tempfile.TemporaryDirectory(prefix="lmkit-ship-") as tmp:
        dest = Path(tmp) / name
        dest.mkdir()
        for d in KIT_DIRS:
            shutil.copytree(root / d, dest / d,
                            ignore=shutil.ignore_patterns(*SKIP_NAMES, "*.pyc"))
        for f in KIT_FILES:
            if (root / f).is_file():
                shutil.copyfile(root / f, dest / f)
        # UploadDirectory skips any path with a "tests" or "docs" folder in it: none here
        plugin = UploadDirectory(str(dest), restart_workers=True, update_path=True,
                                 skip_words=(".git",) + SKIP_NAMES, mode="all")
        client.register_plugin(plugin)
    deadline = time.monotonic() + CONNECT_TIMEOUT
    while time.monotonic() < deadline:   # the restarts take a moment to be seen
        try:
            roots = client.run(eval, _KIT_ROOT_PROBE, on_error="return")
        except OSError:
            roots = {}
        if len(roots) >= max(1, n) and all(isinstance(r, str) and Path(r).name == name
                                           for r in roots.values()):
            break
        time.sleep(0.2)
    for run in (client.run, client.run_on_scheduler):
        try:
            run(lock_uploaded_kit)
        except Exception:
            pass   # a worker that did not take the kit: the fingerprint check names it


def lock_uploaded_kit() -> bool:
    """On a node: make the uploaded kit (hidden suites, solutions) readable by its owner
    (root) only, so that a sandbox without bubblewrap (the uid drop alone) cannot read it. Returns whether this process runs an uploaded kit."""
    root = registry.KIT_ROOT
    if not root.name.startswith("lmkit-") or root.parent.name != "dask-scratch-space":
        return False
    root.chmod(0o700)
    return True


# -- the task, on a node -------------------------------------------------------------------
@dataclass
class GradingJob:
    """Everything a node needs to grade submissions of one batch (scattered once to every
    worker). Hidden tests and expected outputs are in it: nodes are trusted; their sandboxes
    never see it."""
    token: str
    assignment: str
    tests: list[Test]
    expected: dict
    limits: Limits
    strict: bool
    sandboxed: bool
    fingerprint: str        # the parent's kit fingerprint: a node that differs refuses


class _NodeJob:
    def __init__(self, job: GradingJob, nthreads: int):
        sweep_stale_cgroups()
        self.kit = tempfile.TemporaryDirectory(prefix="lmkit-kit-")
        Path(self.kit.name).chmod(0o755)
        public_kit(Path(self.kit.name))
        a = registry.get(job.assignment)
        self.grader = Grader(a, job.tests, job.expected, Path(self.kit.name), job.limits,
                             job.strict, job.sandboxed)
        self.slots: queue.Queue[int] = queue.Queue()
        for k in range(max(1, nthreads)):
            self.slots.put(k)


_JOBS: dict[str, _NodeJob] = {}
_JOBS_LOCK = threading.Lock()


@functools.lru_cache(maxsize=1)
def _node_fingerprint() -> str:
    return kit_fingerprint()


def _node_job(job: GradingJob) -> _NodeJob:
    with _JOBS_LOCK:
        if job.token not in _JOBS:
            if _node_fingerprint() != job.fingerprint:
                raise KitMismatch(
                    f"worker on {socket.gethostname()} (kit {registry.KIT_ROOT}) has kit "
                    f"fingerprint {_node_fingerprint()}, the batch {job.fingerprint}: it "
                    "joined after the connect-time check; stop it or give it the same kit")
            try:
                from distributed import get_worker
                nthreads = get_worker().state.nthreads
            except (ImportError, ValueError, AttributeError):
                nthreads = 1
            _JOBS[job.token] = _NodeJob(job, nthreads)
        return _JOBS[job.token]


def grade_task(job: GradingJob, sub: Submission) -> dict:
    """One submission, on a node: graded exactly as the local pool does, nothing written."""
    t0 = time.time()
    node = _node_job(job)
    slot = node.slots.get()
    try:
        res = node.grader.grade_one(sub, slot)
    except Cancelled:
        res = None
    except Exception as err:  # the grader's own bug: a result, as in the local pool
        res = _internal_error(node.grader, sub, err)
    finally:
        node.slots.put(slot)
    return {"result": res, "pid": os.getpid(), "host": socket.gethostname(),
            "start": t0, "end": time.time()}


def forget_job(token: str) -> bool:
    """Run on every worker when a batch ends: drop its job and its public kit copy, and the
    cgroups that workers killed on this node left behind."""
    with _JOBS_LOCK:
        node = _JOBS.pop(token, None)
    if node is not None:
        node.grader.cancel.set()
        node.kit.cleanup()
    sweep_stale_cgroups()
    return node is not None


def sweep_stale_cgroups() -> list[str]:
    """Remove the cgroups (``lmkit-<pid>-<slot>``, sandbox.plan) of grading processes that
    are gone: a Dask worker SIGKILLed mid-task never removes its own. Only empty ones go
    (the kernel refuses to remove a cgroup with a process in it)."""
    removed = []
    if not sandbox.cgroups_available():
        return removed
    for c in ("memory", "pids"):
        for d in sorted((sandbox.CGROUP_ROOT / c).glob("lmkit-*-*")):
            parts = d.name.split("-")
            if len(parts) != 3 or not parts[1].isdigit() or Path(f"/proc/{parts[1]}").exists():
                continue
            try:
                d.rmdir()
                removed.append(f"{c}/{d.name}")
            except OSError:
                pass
    return removed


def cancel_job(token: str) -> None:
    with _JOBS_LOCK:
        node = _JOBS.get(token)
    if node is not None:  # running submissions stop after their current test
        node.grader.cancel.set()


# -- the batch, in the parent --------------------------------------------------------------
@dataclass
class ClusterStats:
    attempts: dict[str, int] = field(default_factory=dict)   # submission id -> tasks sent
    retried: list[str] = field(default_factory=list)         # ids sent again after a death
    duplicates: int = 0                                      # results dropped, already written
    workers: dict[str, int] = field(default_factory=dict)    # host:pid -> submissions graded
    overhead: list[float] = field(default_factory=list)      # task wall - grading seconds


def _key(token: str, sub: Submission, fp: str, attempt: int) -> str:
    sid = hashlib.sha256(sub.id.encode()).hexdigest()[:8]
    return f"lmkit-grade-{token[:8]}-{sid}-{fp}-{attempt}"


def grade_batch_cluster(grader: Grader, paths: list[Path], out: Path, cluster: Cluster,
                        on_done: Callable[[SubmissionResult | None, str], None] | None = None,
                        resume: bool = True, retries: int = DEFAULT_RETRIES,
                        stats: ClusterStats | None = None) -> list[SubmissionResult]:
    """``batch.grade_batch`` on a Dask cluster: the same results, files and resume."""
    from distributed import as_completed
    from distributed.client import FutureCancelledError
    from distributed.scheduler import KilledWorker

    stats = stats if stats is not None else ClusterStats()
    client = cluster.client
    subs, todo, done_results = load_batch(grader, paths, out, on_done, resume)
    thash = tests_hash(grader.tests)
    token = uuid.uuid4().hex
    job = GradingJob(token, grader.assignment.name, grader.tests, grader.expected,
                     grader.limits, grader.strict, grader.sandboxed,
                     cluster.here.get("fingerprint") or kit_fingerprint())
    written: set[tuple[str, str]] = set()
    futures: dict[Any, tuple[Submission, str, float]] = {}
    job_future = None

    def submit(sub: Submission, fp: str):
        n = stats.attempts.get(sub.id, 0)
        stats.attempts[sub.id] = n + 1
        f = client.submit(grade_task, job_future, sub, key=_key(token, sub, fp, n),
                          pure=False, retries=0)
        futures[f] = (sub, fp, time.time())
        return f

    def write(sub: Submission, fp: str, res: SubmissionResult) -> None:
        if (sub.id, fp) in written:   # a task Dask ran twice: the first result stands
            stats.duplicates += 1
            return
        written.add((sub.id, fp))
        result_files.write_submission(res, out / sub.id)
        done_results[sub.id] = res
        if on_done:
            on_done(res, sub.id)

    def lost(err: BaseException) -> ClusterLost:
        n_done = len(done_results)
        return ClusterLost(
            f"the Dask scheduler {cluster.address} went away ({type(err).__name__}: "
            f"{str(err)[:200]}) with {n_done} of {len(subs)} submissions graded; their "
            f"results are in {out}/. Start the cluster again and run the same command: "
            "finished submissions are kept, the rest are graded")

    try:
        if todo:
            try:
                job_future = client.scatter(job, broadcast=True, hash=False)
            except (OSError, TimeoutError) as err:
                raise lost(err) from None
        pending = as_completed([submit(s, f"{s.fingerprint()[:16]}-{thash}") for s in todo])
        for f in pending:
            sub, fp, sent = futures.pop(f)
            if f.status == "finished":
                try:
                    reply = f.result()
                except (OSError, TimeoutError, FutureCancelledError) as err:  # lost on the way
                    raise lost(err) from None
                res = reply["result"]
                if res is None:
                    raise ClusterLost(f"{sub.id}: the batch was cancelled on the workers")
                stats.workers[f"{reply['host']}:{reply['pid']}"] = \
                    stats.workers.get(f"{reply['host']}:{reply['pid']}", 0) + 1
                stats.overhead.append(max(0.0, time.time() - sent) - res.seconds)
                write(sub, fp, res)
                continue
            err = f.exception() if f.status == "error" else None
            if isinstance(err, KilledWorker):
                if stats.attempts[sub.id] <= retries:
                    stats.retried.append(sub.id)
                    pending.add(submit(sub, fp))
                else:
                    why = RuntimeError(f"the Dask worker grading it died "
                                       f"{stats.attempts[sub.id]} times")
                    write(sub, fp, _internal_error(grader, sub, why))
                continue
            if isinstance(err, KitMismatch):
                raise err
            if err is not None and not isinstance(err, (OSError, TimeoutError)):
                # the task could not even run (a result that would not unpickle, ...)
                write(sub, fp, _internal_error(grader, sub, err))
                continue
            raise lost(err or RuntimeError(f"the connection to the scheduler was lost: task "
                                           f"{f.key} is {f.status}"))
    except BaseException:
        # Ctrl-C, a lost scheduler, a full disk: queued submissions never start, running
        # ones stop after their current test; results already written stay for the resume
        if client.status == "running":
            try:
                client.cancel(list(futures))
                client.run(cancel_job, token)
            except Exception:
                pass
        raise
    finally:
        try:
            if client.status == "running":
                client.run(forget_job, token)
        except Exception:
            pass
    results = [done_results[s.id] for s in subs]
    write_batch(results, out, grader.assignment.name)
    return results
