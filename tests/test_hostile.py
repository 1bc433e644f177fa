"""Hostile submissions (examples/hostile/) against the real sandboxed engine.

One batch grades every hostile example of a2_window beside honest submissions, with jobs=2,
on a subset of a2's tests that every attack touches (``python -m autograder verify a2`` runs
the same manifests on the whole suite). The batch must give each hostile example exactly its
manifest's scores, give the honest submissions exactly what they get when graded alone, and
leave nothing behind: no process of its worker uids, no cgroup, no temporary folder, nothing
received by the loopback listeners the attacks aim at.

Two controls grade one attack with one layer switched off and watch it succeed, so the tests
of the uid drop and of the network cut would fail without those layers.
"""
from __future__ import annotations

import json
import os
import socket
import tempfile
import threading
from pathlib import Path

import pytest

from autograder.authoring import registry as asg
from autograder.engine import sandbox
from autograder.instructor.examples import list_examples, materialize
from autograder.engine.batch import grade_batch, make_grader
from autograder.reporters.gradescope import results_json
from autograder.engine.sandbox import Limits
from autograder.authoring.declare import load_tests

# sandbox batches and platform tools: left out by `python3 kit.py test --fast`
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
A2 = asg.get("a2_window")
HOSTILE = [e for e in list_examples(A2) if e.name.startswith("hostile/")]
# Public and hidden tests of every part an attack lands in (train.py at import, layers.py at
# import, sgd_step inside train.optimizers), and tests that run after it in the same worker.
SUBSET = ["embedding.forward_backward", "softmax_loss.gradcheck", "inputs.unchanged",
          "train.lr_schedule", "train.optimizers", "train.run", "embedding.hidden",
          "inputs.unchanged_hidden", "train.lr_schedule_hidden", "train.optimizers_hidden",
          "train.run_sgd"]
# Private worker uids (no clash with a batch another engineer runs at the same time), so that
# "no process of these uids is left" is a statement about this batch alone.
UID_BASE = 63000
SECRET = "lmkit-secret-0600.txt"
PORT_FILE = "lmkit-port.txt"
PWNED = Path("/tmp/lmkit-hostile-pwned")

needs_sandbox = pytest.mark.skipif(
    not (sandbox.is_root() and sandbox.bwrap_works() and sandbox.cgroups_available()),
    reason="needs root, bubblewrap and cgroup v1 (CI installs bubblewrap)")


def subset_tests():
    by_name = {t.name: t for t in load_tests(A2.name)}
    return [by_name[n] for n in SUBSET]


class Listeners:
    """A TCP listener on 127.0.0.1 and an abstract unix socket, recording what they receive."""

    def __init__(self):
        self.received: list[bytes] = []
        self.tcp = socket.create_server(("127.0.0.1", 0))
        self.unix = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.name = f"lmkit-hostile-{os.getpid()}"
        self.unix.bind("\0" + self.name)
        self.unix.listen()
        self.port = self.tcp.getsockname()[1]
        self._stop = False
        self.threads = [threading.Thread(target=self._serve, args=(s,), daemon=True)
                        for s in (self.tcp, self.unix)]
        for t in self.threads:
            t.start()

    def _serve(self, server):
        server.settimeout(0.2)
        while not self._stop:
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            with conn:
                conn.settimeout(2)
                try:
                    self.received.append(conn.recv(4096) or b"(connected)")
                except OSError:
                    self.received.append(b"(connected)")

    def close(self):
        self._stop = True
        for t in self.threads:
            t.join(timeout=5)
        self.tcp.close()
        self.unix.close()


def plant(kit: Path, listeners: Listeners) -> None:
    """What the read and network attacks look for: a root-only file and the listeners' address."""
    secret = kit / SECRET
    secret.write_text("the reference solution's hash\n")
    os.chown(secret, 0, 0)
    os.chmod(secret, 0o600)
    (kit / PORT_FILE).write_text(f"{listeners.port} {listeners.name}\n")
    os.chmod(kit / PORT_FILE, 0o644)


def private_uid_pids() -> list[int]:
    return [p for uid in range(UID_BASE, UID_BASE + 64) for p in sandbox.uid_pids(uid)]


def our_cgroups() -> list[str]:
    return [str(p) for c in ("memory", "pids")
            for p in (sandbox.CGROUP_ROOT / c).glob(f"lmkit-{os.getpid()}-*")]


def docs_by_id(docs):
    return {d["extra_data"]["submission"]: d for d in docs}


def scores(doc):
    return {t["extra_data"]["test"]: t["score"] for t in doc["tests"]}


def comparable(doc) -> str:
    """results.json without the one field allowed to differ between runs."""
    return json.dumps({k: v for k, v in doc.items() if k != "execution_time"}, sort_keys=True)


def honest_folders(dest: Path) -> dict[str, Path]:
    """The reference and two buggy-but-honest examples."""
    found = {}
    ref = dest / "honest_reference"
    ref.mkdir(parents=True)
    for f in A2.graded_files:
        (ref / f).write_bytes((A2.solution_dir / f).read_bytes())
    found["honest_reference"] = ref
    for ex in list_examples(A2):
        if ex.name in ("bias_not_summed", "embedding_overwrite"):
            found[f"honest_{ex.name}"] = materialize(ex, A2, dest / f"honest_{ex.name}")
    return found


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    """Grade every hostile example and the honest submissions in one batch (jobs=2)."""
    if not (sandbox.is_root() and sandbox.bwrap_works() and sandbox.cgroups_available()):
        pytest.skip("needs root, bubblewrap and cgroup v1")
    tmp_path_factory.getbasetemp()  # made before tempfile's folder is pointed elsewhere
    mp = pytest.MonkeyPatch()
    mp.setattr(sandbox, "UID_BASE", UID_BASE)
    # every lmkit-* temporary folder of this batch goes here, so that we can see it emptied
    private_tmp = Path(tempfile.mkdtemp(prefix="lmkit-hostile-tmp-"))
    private_tmp.chmod(0o755)
    mp.setattr(tempfile, "tempdir", str(private_tmp))
    PWNED.unlink(missing_ok=True)
    subs_dir = tmp_path_factory.mktemp("hostile_subs")
    out = tmp_path_factory.mktemp("hostile_out")
    listeners = Listeners()
    kit = Path(tempfile.mkdtemp(prefix="lmkit-kit-"))
    kit.chmod(0o755)
    try:
        tests = subset_tests()
        # short limits keep the hangs cheap; honest tests need far less
        limits = Limits(memory_mb=1024)
        tests = [t if t.name != "train.optimizers" else
                 __import__("dataclasses").replace(t, timeout=10.0) for t in tests]
        grader = make_grader(A2, tests, kit, limits=limits)
        plant(kit, listeners)
        paths = {}
        for ex in HOSTILE:
            sid = ex.name.split("/", 1)[1]
            paths[sid] = materialize(ex, A2, subs_dir / sid)
        honest = honest_folders(subs_dir)
        paths.update(honest)
        docs = docs_by_id(results_json(grade_batch(grader, list(paths.values()), out, jobs=2, resume=False)))
        alone = {}
        for sid, path in honest.items():
            d = docs_by_id(results_json(grade_batch(grader, [path], tmp_path_factory.mktemp(f"alone_{sid}"),
                                       jobs=1, resume=False)))
            alone[sid] = d[sid]
        again = docs_by_id(results_json(grade_batch(
            grader, [paths[s] for s in DETERMINISM], tmp_path_factory.mktemp("again"), jobs=1,
            resume=False)))
    finally:
        listeners.close()
        import shutil
        shutil.rmtree(kit, ignore_errors=True)
        mp.undo()
    leftovers = {
        "processes": private_uid_pids(),
        "cgroups": our_cgroups(),
        "tmp": sorted(p.name for p in private_tmp.iterdir()),
    }
    if not leftovers["tmp"]:
        import shutil
        shutil.rmtree(private_tmp, ignore_errors=True)
    return {"docs": docs, "alone": alone, "again": again, "tests": tests,
            "received": list(listeners.received), "leftovers": leftovers, "out": out}


# Submissions graded a second time (jobs=1) for the determinism check: the honest ones and
# the attacks whose results depend most on timing.
DETERMINISM = ["honest_reference", "honest_bias_not_summed", "fork_bomb", "memory_bomb",
               "setsid_daemon", "patch_numpy", "print_100mb", "forge_done_lines"]


def test_there_are_enough_attacks():
    assert len(HOSTILE) >= 25
    for ex in HOSTILE:
        m = ex.manifest
        assert m.get("assignment") == "a2_window" and m.get("threat"), ex.name
        assert m.get("description") and m.get("edits"), ex.name


def test_the_batch_covers_every_test_an_attack_targets():
    """The hostile batch grades a subset of a2's tests (verify leaves hostile examples to this
    file): every test a manifest says an attack costs must be in it."""
    import fnmatch
    for ex in HOSTILE:
        for pattern in ex.manifest.get("expect", {}).get("tests", {}):
            assert any(fnmatch.fnmatchcase(n, pattern) for n in SUBSET), (ex.name, pattern)


@needs_sandbox
@pytest.mark.parametrize("example", HOSTILE, ids=[e.name for e in HOSTILE])
def test_hostile_example_gets_its_manifest_scores(batch, example):
    sid = example.name.split("/", 1)[1]
    doc = batch["docs"][sid]
    wrong = {}
    for t in doc["tests"]:
        name = t["extra_data"]["test"]
        want = example.expected_score(name, t["max_score"])
        if abs(t["score"] - want) > 1e-9:
            wrong[name] = (want, t["score"], t["extra_data"]["kind"], t["output"][:300])
    assert not wrong, f"{sid}: {wrong}"


@needs_sandbox
def test_honest_submissions_get_what_they_get_alone(batch):
    ref = batch["alone"]["honest_reference"]
    assert ref["score"] == ref["extra_data"]["max_score"], scores(ref)
    for sid, alone in batch["alone"].items():
        assert comparable(batch["docs"][sid]) == comparable(alone), sid


@needs_sandbox
def test_grading_is_deterministic_across_runs_and_jobs(batch):
    for sid in DETERMINISM:
        assert comparable(batch["docs"][sid]) == comparable(batch["again"][sid]), sid


@needs_sandbox
def test_nothing_survives_the_batch(batch):
    assert batch["leftovers"] == {"processes": [], "cgroups": [], "tmp": []}


@needs_sandbox
def test_loopback_listener_received_nothing(batch):
    assert batch["received"] == []
    fb = next(t for t in batch["docs"]["network_loopback"]["tests"]
              if t["extra_data"]["test"] == "train.optimizers")
    assert "HOSTILE: no network" in fb["output"], fb["output"]


@needs_sandbox
def test_attack_outputs_never_reach_the_grader(batch):
    assert not PWNED.exists(), "a pickle from a worker was loaded by the grader"
    docs = batch["docs"]
    text = json.dumps([docs[s] for s in ("forge_paths", "read_root_only_file")])
    assert "root:" not in text and "reference solution's hash" not in text
    for sid in ("print_100mb", "write_10gb"):
        assert len(json.dumps(docs[sid])) < 200_000, sid
    tamper = next(t for t in docs["patch_numpy"]["tests"]
                  if t["extra_data"]["test"] == "embedding.forward_backward")
    assert "numpy.array_equal" in tamper["output"], tamper["output"]


# -- controls: the same attack with one layer off succeeds, so the tests above can fail --------
def _grade_one_attack(tmp_path, name, monkeypatch):
    monkeypatch.setattr(sandbox, "UID_BASE", UID_BASE + 32)
    ex = next(e for e in HOSTILE if e.name == f"hostile/{name}")
    by_name = {t.name: t for t in load_tests(A2.name)}
    tests = [by_name["train.optimizers"]]
    listeners = Listeners()
    kit = Path(tempfile.mkdtemp(prefix="lmkit-kit-"))
    kit.chmod(0o755)
    try:
        grader = make_grader(A2, tests, kit)
        plant(kit, listeners)
        path = materialize(ex, A2, tmp_path / name)
        doc = results_json(grade_batch(grader, [path], tmp_path / "out", resume=False))[0]
    finally:
        listeners.close()
        import shutil
        shutil.rmtree(kit, ignore_errors=True)
    return doc, listeners.received


@needs_sandbox
def test_root_only_file_is_read_without_the_uid_drop(tmp_path, monkeypatch):
    doc, _ = _grade_one_attack(tmp_path, "read_root_only_file", monkeypatch)
    assert doc["score"] == 0 and "Permission denied" in doc["tests"][0]["output"], doc
    monkeypatch.setattr(sandbox, "setpriv_path", lambda: None)
    doc, _ = _grade_one_attack(tmp_path / "off", "read_root_only_file", monkeypatch)
    assert doc["score"] == 2, "control: as root the attack should have read the secret"


@needs_sandbox
def test_loopback_is_reached_without_the_network_namespace(tmp_path, monkeypatch):
    doc, received = _grade_one_attack(tmp_path, "network_loopback", monkeypatch)
    assert doc["score"] == 0 and received == []
    monkeypatch.setattr(sandbox, "bwrap_works", lambda: False)
    doc, received = _grade_one_attack(tmp_path / "off", "network_loopback", monkeypatch)
    assert doc["score"] == 2 and received == [b"stolen by a student\n"], (doc, received)
