"""Faults of the grader's own: workers SIGKILLed mid-batch, a full output disk, Ctrl-C.

Every submission keeps or gets a complete result, nothing is half-written (write, then
rename), completed results are not redone on resume, and nothing is left running.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from autograder.authoring import registry as asg
from autograder.engine import sandbox
from autograder.engine.batch import grade_batch, make_grader
from autograder.reporters.gradescope import results_json
from autograder.authoring.declare import load_tests
import harness

# sandbox batches and platform tools: left out by `python3 kit.py test --fast`
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
A2 = asg.get("a2_window")
SUBSET = ["embedding.forward_backward", "concat.forward_backward", "tanh.forward_backward",
          "softmax_loss.values", "model.loss", "train.lr_schedule", "train.optimizers"]
UID_BASE = 63200  # private worker uids: nothing another batch runs is touched or counted

needs_root = pytest.mark.skipif(not (sandbox.is_root() and sandbox.bwrap_works()),
                                reason="needs root and bubblewrap")


def subset():
    return harness.tests_named(A2, SUBSET)


def submissions(dest: Path, n: int) -> list[Path]:
    """n submissions: copies of the reference, and one with a classic bug."""
    return harness.submissions(A2, dest, n, ["bias_not_summed"])


def assert_complete(out: Path, names: list[str], n_tests: int) -> dict[str, dict]:
    """Every results.json present is whole; no temporary file is left beside one. Returns the
    finished submissions: those with a record.json, which is written last."""
    done = {}
    for name in names:
        folder = out / name
        if folder.is_dir():
            leftovers = [p.name for p in folder.iterdir() if ".tmp" in p.name]
            assert not leftovers, (name, leftovers)
        f = folder / "results.json"
        if f.exists():
            doc = json.loads(f.read_text())
            assert len(doc["tests"]) == n_tests and doc["extra_data"]["submission"] == name
            if (folder / "record.json").exists():
                record = json.loads((folder / "record.json").read_text())
                assert len(record["tests"]) == n_tests and record["submission"] == name
                done[name] = doc
    return done


@pytest.fixture
def private(monkeypatch):
    monkeypatch.setattr(sandbox, "UID_BASE", UID_BASE)
    kit = Path(tempfile.mkdtemp(prefix="lmkit-kit-"))
    kit.chmod(0o755)
    yield kit
    import shutil
    shutil.rmtree(kit, ignore_errors=True)
    assert [p for u in range(UID_BASE, UID_BASE + 8) for p in sandbox.uid_pids(u)] == []
    assert not list((sandbox.CGROUP_ROOT / "pids").glob(f"lmkit-{os.getpid()}-*"))


@needs_root
def test_workers_killed_at_random_moments(tmp_path, private):
    tests = subset()
    grader = make_grader(A2, tests, private)
    paths = submissions(tmp_path / "subs", 4)
    clean = {d["extra_data"]["submission"]: d
             for d in results_json(grade_batch(grader, paths, tmp_path / "clean", jobs=2, resume=False))}
    rng = np.random.default_rng(7)
    kills: list[int] = []
    stop = threading.Event()

    def killer():
        while not stop.is_set():
            time.sleep(float(rng.uniform(0.05, 0.4)))
            pids = [p for u in range(UID_BASE, UID_BASE + 8) for p in sandbox.uid_pids(u)]
            if pids:
                victim = int(rng.choice(pids))
                try:
                    os.kill(victim, signal.SIGKILL)
                    kills.append(victim)
                except ProcessLookupError:
                    pass

    t = threading.Thread(target=killer, daemon=True)
    t.start()
    try:
        docs = results_json(grade_batch(grader, paths, tmp_path / "out", jobs=2, resume=False))
    finally:
        stop.set()
        t.join()
    assert kills, "the killer never found a worker: the test proved nothing"
    names = [p.name for p in paths]
    done = assert_complete(tmp_path / "out", names, len(tests))
    assert set(done) == set(names) and len(docs) == len(names)
    lost = 0
    for name, doc in done.items():
        for got, want in zip(doc["tests"], clean[name]["tests"]):
            if got["extra_data"]["kind"] == "crashed":  # the test a kill landed in
                assert got["score"] == 0
                lost += 1
            else:  # every other test is graded as if nothing had happened
                assert got["score"] == want["score"] and got["output"] == want["output"], name
    assert lost <= len(kills)


@needs_root
def test_full_output_disk_then_resume(tmp_path, private):
    out = tmp_path / "out"
    out.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=20k", "tmpfs", str(out)]).returncode:
        pytest.skip("cannot mount a tmpfs here")
    try:
        tests = subset()
        grader = make_grader(A2, tests, private)
        paths = submissions(tmp_path / "subs", 4)
        names = [p.name for p in paths]
        with pytest.raises(OSError) as err:
            results_json(grade_batch(grader, paths, out, jobs=1, resume=False))
        assert err.value.errno == 28  # ENOSPC, raised, not swallowed
        first = assert_complete(out, names, len(tests))
        assert 0 < len(first) < len(names), "the disk should have filled part way"
        stamps = {n: (out / n / "record.json").stat().st_mtime_ns for n in first}
        subprocess.run(["mount", "-o", "remount,size=4m", str(out)], check=True)
        docs = results_json(grade_batch(grader, paths, out, jobs=2, resume=True))
        final = assert_complete(out, names, len(tests))
        assert set(final) == set(names) and len(docs) == len(names)
        for n, stamp in stamps.items():  # completed results are kept, not redone
            assert (out / n / "record.json").stat().st_mtime_ns == stamp
            assert final[n] == first[n]
    finally:
        subprocess.run(["umount", "-l", str(out)])


@needs_root
def test_ctrl_c_then_resume(tmp_path):
    subs = tmp_path / "subs"
    paths = submissions(subs, 4)
    names = [p.name for p in paths]
    out = tmp_path / "out"
    private_tmp = tmp_path / "tmp"
    private_tmp.mkdir()
    private_tmp.chmod(0o755)
    env = dict(os.environ, TMPDIR=str(private_tmp), PYTHONPATH=str(ROOT))
    cmd = [sys.executable, "-m", "autograder", "grade", str(subs), "-a", "a2", "--out", str(out),
           "-j", "1", "--public-only"]
    proc, text = harness.interrupted(cmd, env, lambda: list(out.glob("*/results.json")))
    assert proc.returncode == 130, text
    n_tests = len(load_tests(A2.name, include_hidden=False))
    first = assert_complete(out, names, n_tests)
    assert 0 < len(first) < len(names), text
    assert not list((sandbox.CGROUP_ROOT / "pids").glob(f"lmkit-{proc.pid}-*"))
    assert list(private_tmp.iterdir()) == [], "temporary folders survived Ctrl-C"
    stamps = {n: (out / n / "record.json").stat().st_mtime_ns for n in first}
    again = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stdout + again.stderr
    for n in first:
        assert f"{n}: already graded (kept)" in again.stdout
        assert (out / n / "record.json").stat().st_mtime_ns == stamps[n]
    final = assert_complete(out, names, n_tests)
    assert set(final) == set(names)
    assert list(private_tmp.iterdir()) == []
