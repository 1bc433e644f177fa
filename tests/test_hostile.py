"""Hostile submissions (examples/hostile/) against the real sandboxed engine.

One batch grades every hostile example of a2_window beside honest submissions, with jobs=2,
on a subset of a2's tests that every attack touches (``python -m autograder verify a2`` runs
the same manifests on the whole suite). The batch must give each hostile example exactly its
manifest's scores, give the honest submissions exactly what they get when graded alone, and
leave nothing behind: no process of its worker uids, no cgroup, no temporary folder, nothing
received by the loopback listeners the attacks aim at.

Two controls grade one attack with one layer switched off and watch it succeed, so the tests
of the uid drop and of the network cut would fail without those layers.

The batch runs with whatever layers this machine offers (as root with cgroup v1; as an
unprivileged user through bwrap's user namespace; with LMKIT_SANDBOX_LAYERS=-bwrap as CI runs
it once): an attack whose manifest's ``stopped_by`` names a missing layer is skipped as "not
contained here: needs <layer>", every other one must get exactly its manifest's scores.
Examples with their own ``budget_s`` (slow_every_test) are graded beside the batch, under it.
"""
from __future__ import annotations

import dataclasses
import json
import os
import socket
import tempfile
import threading
from pathlib import Path

import pytest

from autograder.authoring import registry as asg
from autograder.engine import sandbox
from autograder.instructor.examples import describe_needs, list_examples, materialize
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

needs_sandbox = pytest.mark.skipif(not sandbox.sys.platform.startswith("linux"),
                                   reason="the sandboxed worker's hostile batch needs Linux")
needs_root = pytest.mark.skipif(
    not (sandbox.is_root() and sandbox.bwrap_works() and sandbox.setpriv_path()),
    reason="a control of the root uid drop: needs root, setpriv and bubblewrap")
needs_bwrap = pytest.mark.skipif(not sandbox.bwrap_works(),
                                 reason=f"needs bubblewrap ({sandbox.bwrap_missing_reason()})")
ACTIVE = sandbox.short_names(sandbox.available_layers())
BATCH = [e for e in HOSTILE if not e.budget_s]
OWN_BUDGET = [e for e in HOSTILE if e.budget_s]


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
    if sandbox.is_root():  # not root: no root-owned file to plant (the attack just fails)
        secret = kit / SECRET
        secret.write_text("the reference solution's hash\n")
        os.chown(secret, 0, 0)
        os.chmod(secret, 0o600)
    (kit / PORT_FILE).write_text(f"{listeners.port} {listeners.name}\n")
    os.chmod(kit / PORT_FILE, 0o644)


def private_uid_pids(before: set[int] = frozenset()) -> list[int]:
    """Root: processes of this batch's private worker uids. Not root (the workers run as this
    user, in user namespaces): processes of this user that were not there before the batch."""
    import time
    for _ in range(100):  # a killed PID namespace's processes exit asynchronously
        if sandbox.is_root():
            found = [p for uid in range(UID_BASE, UID_BASE + 64) for p in sandbox.uid_pids(uid)]
        else:
            found = [p for p in sandbox.uid_pids(os.getuid())
                     if p not in before and p != os.getpid()]
        found = [p for p in found if _state(p) not in ("Z", "X", None)]
        if not found:
            return []
        time.sleep(0.1)
    return [f"{p}: {_cmdline(p)}" for p in found]


def _state(pid: int) -> str | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return None


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()[:200]
    except OSError:
        return "?"


def our_cgroups() -> list[str]:
    b = sandbox.cgroup_backend()
    if b is None:
        return []
    roots = [b.root / c for c in ("memory", "pids")] if b.kind == "v1" else [b.base]
    return [str(p) for r in roots for p in r.glob(f"lmkit-{os.getpid()}-*")]


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
    if not sandbox.sys.platform.startswith("linux"):
        pytest.skip("the hostile batch needs Linux")
    before = set(sandbox.uid_pids(os.getuid()))
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
        # short limits keep the hangs cheap: the attacks fire in the two optimizer tests, where
        # an infinite loop burns a core until the wall-clock limit (4 s: 21 core-seconds fewer
        # than 10 and 30 s); the honest submissions take 20 ms there
        limits = Limits(memory_mb=1024)
        tests = [t if t.name not in ("train.optimizers", "train.optimizers_hidden") else
                 __import__("dataclasses").replace(t, timeout=4.0) for t in tests]
        grader = make_grader(A2, tests, kit, limits=limits)  # also fills the expected cache
        plant(kit, listeners)
        # The examples with a budget of their own (slow_every_test: 40 s, nearly all of it
        # asleep) are graded by a thread each, started before the batch and joined after the
        # regradings below: they sleep beside all of it instead of holding the fixture up at
        # the end. Each worker claims a uid and a cgroup of its own, as any concurrent batch.
        own_docs: dict = {}
        threads = [threading.Thread(target=_grade_with_own_budget, daemon=True,
                                    args=(ex, tests, limits, subs_dir, out, own_docs))
                   for ex in OWN_BUDGET]
        for t in threads:
            t.start()
        paths = {}
        for ex in BATCH:
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
        for t in threads:
            t.join()
        docs.update(own_docs)
    finally:
        listeners.close()
        import shutil
        shutil.rmtree(kit, ignore_errors=True)
        mp.undo()
    leftovers = {
        "processes": private_uid_pids(before),
        "cgroups": our_cgroups(),
        "tmp": sorted(p.name for p in private_tmp.iterdir()),
    }
    if not leftovers["tmp"]:
        import shutil
        shutil.rmtree(private_tmp, ignore_errors=True)
    return {"docs": docs, "alone": alone, "again": again, "tests": tests,
            "received": list(listeners.received), "leftovers": leftovers, "out": out}


def _grade_with_own_budget(ex, tests, limits, subs_dir, out, into):
    import shutil
    sid = ex.name.split("/", 1)[1]
    kit = Path(tempfile.mkdtemp(prefix="lmkit-kit-"))  # its own: make_grader rewrites the kit
    kit.chmod(0o755)
    try:
        grader = make_grader(A2, tests, kit,
                             limits=dataclasses.replace(limits, budget_s=ex.budget_s))
        path = materialize(ex, A2, subs_dir / sid)
        into.update(docs_by_id(results_json(grade_batch(grader, [path], out / f"own-{sid}",
                                                        jobs=1, resume=False))))
    finally:
        shutil.rmtree(kit, ignore_errors=True)


# Submissions graded a second time (jobs=1) for the determinism check: the honest ones and
# the attacks whose results depend most on timing. An attack that this machine's layers do
# not contain is left out: its outcome is a race it may win or lose (forge_done_lines without
# the uid drop), and its skipped manifest test already says it is not contained here.
_TIMING_SENSITIVE = ["honest_reference", "honest_bias_not_summed", "fork_bomb", "memory_bomb",
                     "setsid_daemon", "patch_numpy", "print_100mb", "forge_done_lines"]
DETERMINISM = [sid for sid in _TIMING_SENSITIVE
               if not any(e.name.endswith("/" + sid) and e.needs(ACTIVE) for e in HOSTILE)]


def test_there_are_enough_attacks():
    assert len(HOSTILE) >= 25
    for ex in HOSTILE:
        m = ex.manifest
        assert m.get("assignment") == "a2_window" and m.get("threat"), ex.name
        assert m.get("description") and m.get("edits"), ex.name
        assert "stopped_by" in m and ex.stopped_by, ex.name  # names only known layers
    needing = {v for ex in HOSTILE for item in ex.stopped_by for v in item.split("|")}
    assert {"bwrap", "uid", "rlimits", "process"} <= needing


def test_examples_report_what_they_need_where_a_layer_is_missing():
    by = {e.name.split("/", 1)[1]: e for e in HOSTILE}
    full = {"process", "rlimits", "bwrap", "uid", "cgroup"}
    assert all(not e.needs(full) for e in HOSTILE)
    assert by["read_solutions"].needs(full - {"bwrap"}) == ["bwrap"]
    assert by["fork_bomb"].needs({"process", "rlimits", "bwrap"}) == ["uid"]
    assert by["tamper_shared_files"].needs(full - {"bwrap"}) == []          # "bwrap|uid"
    assert by["tamper_shared_files"].needs({"process", "rlimits"}) == ["bwrap|uid"]


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
    needs = example.needs(ACTIVE)
    if needs:
        pytest.skip(f"not contained here: needs {describe_needs(needs)} "
                    f"(this machine's layers: {', '.join(sorted(ACTIVE))})")
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
def test_the_batch_ran_with_the_layers_the_machine_offers(batch):
    for doc in batch["docs"].values():
        assert sandbox.short_names(doc["extra_data"]["sandbox"]) == ACTIVE, doc["extra_data"]


@needs_sandbox
def test_slow_submission_is_cut_by_its_budget(batch):
    for ex in OWN_BUDGET:
        doc = batch["docs"][ex.name.split("/", 1)[1]]
        cut = [t for t in doc["tests"] if "submission time budget exhausted" in t["output"]]
        # all but the tests that finished inside the budget
        assert len(cut) == sum(ex.expected_score(t["extra_data"]["test"], t["max_score"]) == 0
                               for t in doc["tests"]), [t["output"][:100] for t in doc["tests"]]
        assert any("before this test started" in t["output"] for t in cut), cut


@needs_sandbox
def test_grading_is_deterministic_across_runs_and_jobs(batch):
    for sid in DETERMINISM:
        assert comparable(batch["docs"][sid]) == comparable(batch["again"][sid]), sid


@needs_sandbox
def test_nothing_survives_the_batch(batch):
    assert batch["leftovers"] == {"processes": [], "cgroups": [], "tmp": []}


@needs_sandbox
@needs_bwrap
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


@needs_root
def test_root_only_file_is_read_without_the_uid_drop(tmp_path, monkeypatch):
    doc, _ = _grade_one_attack(tmp_path, "read_root_only_file", monkeypatch)
    assert doc["score"] == 0 and "Permission denied" in doc["tests"][0]["output"], doc
    monkeypatch.setattr(sandbox, "setpriv_path", lambda: None)
    doc, _ = _grade_one_attack(tmp_path / "off", "read_root_only_file", monkeypatch)
    assert doc["score"] == doc["tests"][0]["max_score"], \
        "control: as root the attack should have read the secret"


@needs_sandbox
@needs_bwrap
def test_loopback_is_reached_without_the_network_namespace(tmp_path, monkeypatch):
    doc, received = _grade_one_attack(tmp_path, "network_loopback", monkeypatch)
    assert doc["score"] == 0 and received == []
    monkeypatch.setattr(sandbox, "bwrap_works", lambda: False)
    doc, received = _grade_one_attack(tmp_path / "off", "network_loopback", monkeypatch)
    assert doc["score"] == doc["tests"][0]["max_score"] and \
        received == [b"stolen by a student\n"], (doc, received)
