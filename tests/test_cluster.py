"""Grading on a Dask cluster (engine/cluster.py), on clusters these tests start on loopback.

The same batch graded on a LocalCluster gives the same results.json files as the local pool
(but for execution_time, a wall-clock figure); a Dask worker SIGKILLed mid-batch costs no
submission and none is written twice; a student's timeout is a result, never retried; a
worker running another kit is refused at connect time, and --ship-kit gives it this one; the
scheduler going away stops the batch, and the next run resumes from what is on disk.
"""
from __future__ import annotations

import dataclasses
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

distributed = pytest.importorskip("distributed", reason="dask distributed is not installed "
                                  "(pip install 'lmkit[cluster]')")

from autograder.authoring import registry as asg  # noqa: E402
from autograder.engine import cluster as C  # noqa: E402
from autograder.engine.batch import grade_batch, make_grader, temp_kit  # noqa: E402
from autograder.errors import KitError  # noqa: E402
import harness  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
A2 = asg.get("a2_window")
# public and hidden tests, and the one the infinite loop hangs in (timeout cut to 3 s)
SUBSET = ["embedding.forward_backward", "softmax_loss.values", "embedding.hidden",
          "train.optimizers"]
PY = sys.executable


def subset() -> list:
    return [dataclasses.replace(t, timeout=3.0) if t.name == "train.optimizers" else t
            for t in harness.tests_named(A2, SUBSET)]


def submissions(dest: Path, n: int, hang: bool = True) -> list[Path]:
    """n submissions: copies of the reference, one with a classic bug, one that hangs."""
    last = "hostile/infinite_loop" if hang else "bias_not_summed"
    return harness.submissions(A2, dest, n, ["bias_not_summed", last])


def docs(out: Path) -> dict[str, dict]:
    """results.json of every submission in ``out``, without the wall-clock execution_time."""
    found = {}
    for f in sorted(out.glob("*/results.json")):
        d = json.loads(f.read_text())
        d.pop("execution_time")
        found[f.parent.name] = d
    return found


@pytest.fixture(scope="module")
def grader():
    with temp_kit() as kit:
        yield make_grader(A2, subset(), Path(kit))


@pytest.fixture(scope="module")
def local2():
    cl = C.connect("local:2")
    try:
        yield cl
    finally:
        cl.close()


@pytest.fixture(scope="module")
def pool_batch(tmp_path_factory, grader):
    """Five submissions (three copies of the reference, a classic bug, a hang) graded once on
    the local pool: the results every cluster batch of this module must reproduce (a
    submission's results.json does not depend on which others share its batch)."""
    tmp = tmp_path_factory.mktemp("pool-batch")
    paths = submissions(tmp / "subs", 5)
    grade_batch(grader, paths, tmp / "pool", jobs=2, resume=False)
    return paths, tmp / "pool"


def test_fingerprint_covers_the_kit_and_nothing_else(tmp_path):
    for d in C.KIT_DIRS:
        (tmp_path / d).mkdir()
        (tmp_path / d / "x.py").write_text("x = 1\n")
    first = C.kit_fingerprint(tmp_path)
    (tmp_path / "autograder" / "__pycache__").mkdir()
    (tmp_path / "autograder" / "__pycache__" / "x.pyc").write_bytes(b"junk")
    (tmp_path / "examples").mkdir()
    (tmp_path / "examples" / "y.py").write_text("y = 2\n")
    assert C.kit_fingerprint(tmp_path) == first        # caches and other folders: ignored
    (tmp_path / "solutions" / "x.py").write_text("x = 2\n")
    assert C.kit_fingerprint(tmp_path) != first        # a changed reference: another kit


def test_compare_nodes_names_the_worker_and_the_fix():
    full = ["rlimits", "bwrap namespaces (mount, pid, net, ipc, uts)",
            "unprivileged uid per worker slot"]
    here = {"fingerprint": "aaaa", "kit": "/kit", "layers": full[:2],
            "env": {"python": "3.11.7", "numpy": "2.4.6"}}
    same = dict(here, host="n1")
    assert C.compare_nodes(here, {"tcp://n1:1": same}) == []
    # stronger nodes than this machine are fine, weaker ones are not
    stronger = dict(same, layers=full)
    assert C.compare_nodes(here, {"tcp://n1:1": stronger, "tcp://n2:1": stronger}) == []
    assert C.compare_nodes(here, {"tcp://n1:1": stronger}, strict=True) == []
    assert "--strict" in C.compare_nodes(here, {"tcp://n1:1": same}, strict=True)[0]
    other = dict(here, host="n2", fingerprint="bbbb", layers=["rlimits"],
                 env={"python": "3.11.7", "numpy": "2.3.0"})
    problems = C.compare_nodes(here, {"tcp://n1:1": same, "tcp://n2:1": other})
    assert len(problems) == 3 and all("tcp://n2:1" in p for p in problems)
    assert "--ship-kit" in problems[0] and "bbbb" in problems[0]
    assert "lacks ['bwrap namespaces (mount, pid, net, ipc, uts)']" in problems[1]
    assert "apt-get install -y bubblewrap" in problems[1]
    assert "'numpy': ('2.4.6', '2.3.0')" in problems[2]
    # workers that disagree among themselves: each one that differs from the first is named
    mixed = C.compare_nodes(here, {"tcp://n1:1": stronger, "tcp://n2:1": same})
    assert len(mixed) == 1 and "tcp://n2:1" in mixed[0] and "other workers differ" in mixed[0]


def test_a_worker_that_joined_late_with_another_kit_refuses_its_task(tmp_path):
    """The connect-time check misses workers that join later: their first task checks."""
    from autograder.engine.records import Submission
    from autograder.engine.sandbox import Limits
    job = C.GradingJob("late-joiner", A2.name, [], {}, Limits(), False, True,
                       fingerprint="0000000000000000")
    with pytest.raises(C.KitMismatch, match="joined after the connect-time check"):
        C.grade_task(job, Submission("s", tmp_path))
    assert not C.forget_job("late-joiner")      # nothing was set up for it


def test_local_n_parsing():
    assert C.parse_local("local:3") == 3 and C.parse_local("local") == 2
    assert C.parse_local("tcp://10.0.0.1:8786") is None
    with pytest.raises(KitError, match="local:N"):
        C.parse_local("local:zero")


def test_dask_is_pinned_for_graders_and_kept_out_of_student_releases():
    import tomllib
    from autograder.instructor.release.build import student_requirements
    pin = "dask[distributed]==2026.8.0"
    assert pin in (ROOT / "requirements.txt").read_text().splitlines()
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert extras["optional-dependencies"]["cluster"] == [pin]
    lock = (ROOT / "requirements.lock").read_text().splitlines()
    assert {"dask==2026.8.0", "distributed==2026.8.0"} <= set(lock)
    student = student_requirements(ROOT)
    assert "numpy" in student and "dask" not in student and "distributed" not in student


@pytest.mark.slow
def test_cluster_results_identical_to_local_pool(tmp_path, grader, local2, pool_batch):
    paths, pool_out = pool_batch
    stats = C.ClusterStats()
    results = C.grade_batch_cluster(grader, paths, tmp_path / "dask", local2, resume=False,
                                    stats=stats)
    pool, dask = docs(pool_out), docs(tmp_path / "dask")
    assert set(dask) == {p.name for p in paths} and dask == pool
    assert [r.submission for r in results] == [p.name for p in paths]
    # the hang is a result, graded once: a student's timeout is never retried
    hang = {t["extra_data"]["test"]: t["extra_data"]["kind"] for t in dask["student4"]["tests"]}
    assert hang["train.optimizers"] == "timeout"
    assert stats.attempts == {p.name: 1 for p in paths} and stats.retried == []
    assert len(stats.workers) == 2, "both Dask workers should have graded"
    for name in ("gradebook.csv", "report.md"):
        assert (tmp_path / "dask" / name).read_text() == (pool_out / name).read_text()


@pytest.mark.slow
def test_worker_sigkilled_mid_batch_loses_nothing(tmp_path, grader, local2, pool_batch):
    paths = pool_batch[0][:4]             # all but the hang: three references and the bug
    pool = {n: d for n, d in docs(pool_batch[1]).items() if n in {p.name for p in paths}}
    assert len(pool) == 4
    client = local2.client
    pids = client.run(os.getpid)          # worker address -> pid (nanny-managed workers)
    killed: list[int] = []

    def killer():
        deadline = time.monotonic() + 120
        while not killed and time.monotonic() < deadline:
            busy = [a for a, keys in client.processing().items() if keys and a in pids]
            if busy:
                time.sleep(0.5)            # mid-task: the sandboxed worker is running tests
                os.kill(pids[busy[0]], signal.SIGKILL)
                killed.append(pids[busy[0]])
            time.sleep(0.05)

    written: list[str] = []
    stats = C.ClusterStats()
    t = threading.Thread(target=killer, daemon=True)
    t.start()
    try:
        C.grade_batch_cluster(grader, paths, tmp_path / "dask", local2, resume=False,
                              stats=stats, on_done=lambda res, sid: written.append(sid))
    finally:
        t.join()
    assert killed, "the killer found no busy worker: the test proved nothing"
    assert stats.retried, "no submission was sent again after the kill"
    assert sorted(written) == sorted(p.name for p in paths)      # each written exactly once
    assert stats.duplicates == 0
    assert docs(tmp_path / "dask") == pool                       # and graded as if unharmed
    client.wait_for_workers(2, timeout=60)                       # the nanny restarts it
    # nothing of the killed worker is left running: bwrap dies with it, and the end of the
    # batch removes the cgroups it could not
    if C.sandbox.cgroups_available():
        left = [d for c in ("memory", "pids")
                for d in (C.sandbox.CGROUP_ROOT / c).glob(f"lmkit-{killed[0]}-*")]
        assert left == []


def _worker(scheduler_file: Path, cwd: Path, pythonpath: str | None) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    return subprocess.Popen([PY, "-m", "distributed.cli.dask_worker", "--scheduler-file",
                             str(scheduler_file), "--nthreads", "1", "--nworkers", "1",
                             "--no-dashboard", "--host", "127.0.0.1",
                             "--local-directory",
                             str(scheduler_file.parent / f"worker-in-{cwd.name}")],
                            cwd=cwd, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)


def _scheduler(scheduler_file: Path, with_kit: bool = True) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    if with_kit:
        env["PYTHONPATH"] = str(ROOT)
    cwd = scheduler_file.parent / "scheduler"
    cwd.mkdir()
    env["DASK_TEMPORARY_DIRECTORY"] = str(cwd)   # where an uploaded kit lands
    proc = subprocess.Popen([PY, "-m", "distributed.cli.dask_scheduler", "--host",
                             "127.0.0.1", "--port", "0", "--no-dashboard", "--scheduler-file",
                             str(scheduler_file)],
                            cwd=cwd, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while not scheduler_file.exists():
        assert proc.poll() is None and time.monotonic() < deadline, "the scheduler did not start"
        time.sleep(0.1)
    return proc


def _stop(*procs: subprocess.Popen) -> None:
    """Stop ``procs`` one after the other, in order (workers before their scheduler: a worker
    whose scheduler is already gone spends seconds trying to reach it before it exits)."""
    for p in procs:
        if p.poll() is None:
            p.terminate()
        try:
            p.wait(timeout=20)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def _kit_copy(dest: Path) -> Path:
    for d in C.KIT_DIRS:
        shutil.copytree(ROOT / d, dest / d, ignore=shutil.ignore_patterns(*C.SKIP_NAMES, "*.pyc"))
    for f in C.KIT_FILES:
        shutil.copyfile(ROOT / f, dest / f)
    return dest


@pytest.mark.slow
def test_mismatched_kit_refused_then_shipped(tmp_path):
    """A node whose checkout differs by one line is refused, naming it and the fix; with
    --ship-kit the same node gets this kit and grades like the local pool."""
    other = _kit_copy(tmp_path / "other-kit")
    with open(other / "lmcore" / "__init__.py", "a") as f:
        f.write("# a local edit on that node\n")
    sf = tmp_path / "scheduler.json"
    sched = _scheduler(sf)
    worker = _worker(sf, cwd=tmp_path, pythonpath=str(other))
    try:
        with pytest.raises(C.KitMismatch) as err:
            C.connect(str(sf))
        msg = str(err.value)
        assert f"kit {other}" in msg and "--ship-kit" in msg and "fingerprint" in msg
        with C.connect(str(sf), ship_kit=True) as cl:
            (info,) = cl.workers.values()
            assert info["fingerprint"] == cl.here["fingerprint"]
            assert Path(info["kit"]).name == f"lmkit-{info['fingerprint']}"
            tests = subset()[:2]
            paths = submissions(tmp_path / "subs", 2, hang=False)
            with temp_kit() as kit:
                g = make_grader(A2, tests, Path(kit))
                grade_batch(g, paths, tmp_path / "pool", jobs=1, resume=False)
                C.grade_batch_cluster(g, paths, tmp_path / "dask", cl, resume=False)
            assert docs(tmp_path / "dask") == docs(tmp_path / "pool")
    finally:
        _stop(worker, sched)


@pytest.mark.slow
def test_worker_without_the_kit_refused_then_shipped(tmp_path):
    """A node with the environment but no kit on its path (dask ssh from a bare folder):
    refused with the fix, then given the kit by --ship-kit."""
    sf = tmp_path / "scheduler.json"
    sched = _scheduler(sf, with_kit=False)   # a generic scheduler, without the kit either
    bare = tmp_path / "bare"
    bare.mkdir()
    worker = _worker(sf, cwd=bare, pythonpath=None)
    try:
        with pytest.raises(C.KitMismatch) as err:
            C.connect(str(sf))
        assert "cannot load the kit" in str(err.value) and "--ship-kit" in str(err.value)
        assert "No module named 'autograder'" in str(err.value)
        assert "the scheduler cannot load the kit" in str(err.value)
        with C.connect(str(sf), ship_kit=True) as cl:
            (info,) = cl.workers.values()
            assert info["fingerprint"] == cl.here["fingerprint"]
            # hidden suites and solutions of the uploaded copy: readable by root alone
            assert Path(info["kit"]).stat().st_mode & 0o077 == 0
            paths = submissions(tmp_path / "subs", 2, hang=False)
            with temp_kit() as kit:
                g = make_grader(A2, subset()[:1], Path(kit))
                results = C.grade_batch_cluster(g, paths, tmp_path / "out", cl)
            assert [r.fatal for r in results] == [None, None]
            assert results[0].score == results[0].max_score > 0
    finally:
        _stop(worker, sched)


@pytest.mark.slow
def test_scheduler_gone_stops_then_resumes(tmp_path, grader, local2):
    paths = submissions(tmp_path / "subs", 5, hang=False)
    names = [p.name for p in paths]
    out = tmp_path / "out"
    sf = tmp_path / "scheduler.json"
    sched = _scheduler(sf)
    worker = _worker(sf, cwd=ROOT, pythonpath=str(ROOT))

    def kill_scheduler(res, sid):
        if sched.poll() is None:
            sched.kill()

    try:
        cl = C.connect(str(sf))
        try:
            with pytest.raises(C.ClusterLost) as err:
                C.grade_batch_cluster(grader, paths, out, cl, resume=False,
                                      on_done=kill_scheduler)
        finally:
            cl.close()
    finally:
        _stop(worker, sched)
    assert "run the same command" in str(err.value) and str(out) in str(err.value)
    first = sorted(p.parent.name for p in out.glob("*/record.json"))
    assert 0 < len(first) < len(names), first
    assert not list(out.glob("*/.*.tmp-*")) and not (out / "gradebook.csv").exists()
    stamps = {n: (out / n / "record.json").stat().st_mtime_ns for n in first}
    kept: list[str] = []
    # the next run, on another cluster (the module's LocalCluster): finished ones are kept
    results = C.grade_batch_cluster(grader, paths, out, local2,
                                    on_done=lambda res, sid: res is None and kept.append(sid))
    assert sorted(kept) == first                                  # not redone
    assert {n: (out / n / "record.json").stat().st_mtime_ns for n in first} == stamps
    assert [r.submission for r in results] == names and (out / "gradebook.csv").exists()


def _marked(mark: str) -> list[int]:
    """Live processes whose environment holds ``mark``."""
    found = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                if mark.encode() in (d / "environ").read_bytes():
                    found.append(int(d.name))
            except OSError:
                pass
    return found


@pytest.mark.slow
def test_ctrl_c_on_a_local_cluster_then_resume(tmp_path):
    """The CLI interrupted mid-batch: exit 130, whole results only, no Dask process left;
    the same command again keeps what was finished."""
    subs = tmp_path / "subs"
    paths = submissions(subs, 3, hang=False)   # one to keep, two the Ctrl-C leaves undone
    names = [p.name for p in paths]
    out = tmp_path / "out"
    mark = f"LMKIT_TEST_MARK={os.getpid()}-{time.time_ns()}"
    env = dict(os.environ, PYTHONPATH=str(ROOT), LMKIT_TEST_MARK=mark.split("=", 1)[1])
    cmd = [PY, "-m", "autograder", "grade", str(subs), "-a", "a2", "--out", str(out),
           "--cluster", "local:1", "--public-only"]
    proc, text = harness.interrupted(cmd, env, lambda: list(out.glob("*/record.json")))
    assert proc.returncode == 130, text
    assert "Dask dashboard: http://127.0.0.1:" in text and "on the Dask cluster local:1" in text
    first = sorted(p.parent.name for p in out.glob("*/record.json"))
    assert 0 < len(first) < len(names), text
    assert not list(out.glob("*/.*.tmp-*"))
    deadline = time.monotonic() + 30
    while _marked(mark) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _marked(mark) == [], "Dask processes outlived the interrupted grade"
    again = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stdout + again.stderr
    for n in first:
        assert f"{n}: already graded (kept)" in again.stdout
    assert sorted(p.parent.name for p in out.glob("*/record.json")) == names
