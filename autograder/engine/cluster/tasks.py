"""One Dask task per submission: the job every node receives once, the task that grades a
submission there, and the parent's loop that writes each result once (retries, resume)."""
from __future__ import annotations

import functools
import hashlib
import os
import queue
import socket
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
from autograder.reporters import files as result_files
from autograder.reporters.gradebook import write_batch

# What a grading node needs of the kit, and what its fingerprint covers.
from autograder.engine.cluster.nodes import (DEFAULT_RETRIES, Cluster, ClusterLost, KitMismatch,
                                             kit_fingerprint)


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
    """Remove the cgroups (``lmkit-<pid>-<slot>[-<n>]``, sandbox.plan) of grading processes
    that are gone: a Dask worker SIGKILLed mid-task never removes its own. Only empty ones go
    (the kernel refuses to remove a cgroup with a process in it)."""
    removed = []
    if not sandbox.cgroups_available():
        return removed
    for c in ("memory", "pids"):
        for d in sorted((sandbox.CGROUP_ROOT / c).glob("lmkit-*-*")):
            parts = d.name.split("-")
            if len(parts) not in (3, 4) or not all(p.isdigit() for p in parts[1:]) \
                    or Path(f"/proc/{parts[1]}").exists():
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
