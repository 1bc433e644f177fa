"""The grading pipeline end to end on a2_window's public tests (the normal paths).

Grades the reference, the stubs and two example submissions once per module (jobs=1 and
jobs=2), then checks what was written: Gradescope's results.json schema, feedback, gradebook,
class report, determinism across job counts. Two tests check that the privilege drop and the
network cut are real (the broad hostile versions live in test_hostile.py).

The expected outputs are the reference's, computed here: these tests are about the engine;
whether the committed expected data is current is `verify`'s business.
"""
import csv
import json
import os
import socket
import threading
from pathlib import Path

import pytest

from autograder.authoring import registry as asg
from autograder.engine import expected as expected_mod
from autograder.engine import sandbox
from autograder.instructor.examples import list_examples, materialize
from autograder.engine.batch import Grader, grade_batch, make_grader, temp_kit
from autograder.reporters.gradescope import results_json
from autograder.engine.intake import load_submission
from autograder.reporters.files import FEEDBACK, RESULTS
from autograder.instructor.stubs import make_stub_source
from autograder.authoring.declare import load_tests

# sandbox batches and platform tools: left out by `python3 kit.py test --fast`
pytestmark = pytest.mark.slow

A2 = asg.get("a2")
EXAMPLES = ("bias_not_summed", "partial")

# Gradescope's results.json format (docs/design.md), as a JSON schema.
VISIBILITY = {"enum": ["hidden", "after_due_date", "after_published", "visible"]}
GRADESCOPE_SCHEMA = {
    "type": "object",
    "required": ["tests", "execution_time"],
    "properties": {
        "score": {"type": "number"},
        "execution_time": {"type": "number", "minimum": 0},
        "output": {"type": "string"},
        "output_format": {"enum": ["text", "html", "simple_format", "md", "ansi"]},
        "visibility": VISIBILITY,
        "stdout_visibility": VISIBILITY,
        "extra_data": {"type": "object"},
        "tests": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["score", "max_score", "status", "name", "output", "visibility"],
                "properties": {
                    "score": {"type": "number", "minimum": 0},
                    "max_score": {"type": "number", "minimum": 0},
                    "status": {"enum": ["passed", "failed"]},
                    "name": {"type": "string", "minLength": 1},
                    "number": {"type": "string"},
                    "output": {"type": "string"},
                    "output_format": {"enum": ["text", "html", "simple_format", "md", "ansi"]},
                    "tags": {"type": "array", "items": {"type": "string"}},
                    "visibility": VISIBILITY,
                    "extra_data": {"type": "object"},
                },
                "additionalProperties": False,
            },
        },
    },
}


def write_stubs(dest: Path) -> Path:
    dest.mkdir(parents=True)
    for f in A2.graded_files:
        src = A2.solution_dir / f
        (dest / f).write_text(make_stub_source(src.read_text(), src))
    return dest


def write_reference(dest: Path) -> Path:
    dest.mkdir(parents=True)
    for f in A2.graded_files:
        (dest / f).write_bytes((A2.solution_dir / f).read_bytes())
    return dest


@pytest.fixture(scope="module")
def tests():
    return load_tests(A2.name, include_hidden=False)


@pytest.fixture(scope="module")
def grader(tests):
    with temp_kit() as kit:
        g = make_grader(A2, tests, Path(kit))
        wanted = [t for t in tests if t.needs_reference]
        g.expected.update(expected_mod.run_reference(A2, wanted))
        yield g


@pytest.fixture(scope="module")
def submissions(tmp_path_factory):
    root = tmp_path_factory.mktemp("subs")
    paths = {"reference": write_reference(root / "reference"),
             "stubs": write_stubs(root / "stubs")}
    by_name = {ex.name: ex for ex in list_examples(A2)}
    for name in EXAMPLES:
        paths[name] = materialize(by_name[name], A2, root / name)
    return paths


@pytest.fixture(scope="module")
def batches(grader, submissions, tmp_path_factory):
    out = {}
    for jobs in (1, 2):
        folder = tmp_path_factory.mktemp(f"out-j{jobs}")
        docs = results_json(grade_batch(grader, list(submissions.values()), folder, jobs=jobs, resume=False))
        out[jobs] = (folder, {d["extra_data"]["submission"]: d for d in docs})
    return out


def test_reference_gets_full_marks(batches, tests):
    _, docs = batches[1]
    ref = docs["reference"]
    failed = [(t["name"], t["output"]) for t in ref["tests"] if t["status"] != "passed"]
    assert failed == []
    assert ref["score"] == sum(t.points for t in tests) == ref["extra_data"]["max_score"]
    assert len(ref["tests"]) == len(tests)


def test_stubs_get_zero_as_not_implemented(batches):
    _, docs = batches[1]
    stubs = docs["stubs"]
    assert stubs["score"] == 0
    kinds = {t["extra_data"]["kind"] for t in stubs["tests"]}
    assert kinds == {"not-implemented"}, [t["output"] for t in stubs["tests"]][:3]
    assert all(t["output"].startswith("not implemented yet") for t in stubs["tests"])


def test_examples_lose_points_between_stubs_and_reference(batches):
    # exact per-test scores against each manifest are `verify`'s job (test_verify / CI)
    _, docs = batches[1]
    for name in EXAMPLES:
        assert 0 < docs[name]["score"] < docs["reference"]["score"], name
        assert any(t["status"] == "failed" for t in docs[name]["tests"])


def test_results_json_follows_gradescopes_schema(batches):
    jsonschema = pytest.importorskip("jsonschema")
    folder, docs = batches[1]
    for sid in docs:
        doc = json.loads((folder / sid / RESULTS).read_text())
        jsonschema.validate(doc, GRADESCOPE_SCHEMA)
        assert isinstance(doc["execution_time"], (int, float)) and doc["execution_time"] > 0
        assert doc["score"] == pytest.approx(sum(t["score"] for t in doc["tests"]))
        for t in doc["tests"]:
            assert t["score"] <= t["max_score"] + 1e-9
            assert (t["status"] == "passed") == (t["score"] >= t["max_score"] - 1e-9)
            assert t["output"]  # a failed test always says why
        assert doc["extra_data"]["sandbox"], "the report names the active layers"


def test_failing_feedback_names_where_and_what(batches):
    _, docs = batches[1]
    outs = {t["extra_data"]["test"]: t["output"] for t in docs["bias_not_summed"]["tests"]}
    wrong = [o for o in outs.values() if o != "passed"]
    assert wrong
    assert any("expected" in o and "got" in o for o in wrong), wrong


def test_feedback_md_is_readable(batches):
    folder, docs = batches[1]
    text = (folder / "reference" / FEEDBACK).read_text(encoding="utf-8")
    ref = docs["reference"]
    assert text.startswith("# a2_window: reference")
    assert f"**Score: {ref['score']:g} / {ref['extra_data']['max_score']:g}**" in text
    assert "What went wrong" not in text
    stubs = (folder / "stubs" / FEEDBACK).read_text(encoding="utf-8")
    assert "| embedding.forward_backward | embedding | 0/2 | not implemented |" in stubs
    assert "## What went wrong" in stubs and "not implemented yet" in stubs


def test_gradebook_and_class_report(batches, tests, submissions):
    folder, docs = batches[1]
    with open(folder / "gradebook.csv", newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["submission", "score", "max_score", *[t.name for t in tests]]
    body = {r[0]: r for r in rows[1:]}
    assert sorted(body) == sorted(submissions)
    assert body["reference"][1] == f"{docs['reference']['score']:g}"
    assert body["stubs"][1] == "0"
    report = (folder / "report.md").read_text()
    assert report.startswith("# Class report: a2_window")
    assert f"{len(submissions)} submissions;" in report
    for png in ("score_histogram.png", "pass_rate.png"):
        assert f"]({png})" in report
        assert (folder / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "## Most common failures" in report


def assert_same_files(f1: Path, f2: Path, sid: str) -> None:
    """Two batches wrote the same results.json (but for the time taken) and feedback.md."""
    a = json.loads((f1 / sid / RESULTS).read_text())
    b = json.loads((f2 / sid / RESULTS).read_text())
    a.pop("execution_time")
    b.pop("execution_time")
    assert json.dumps(a, indent=2) == json.dumps(b, indent=2), sid
    assert (f1 / sid / FEEDBACK).read_bytes() == (f2 / sid / FEEDBACK).read_bytes(), sid

def test_jobs_1_and_2_give_identical_results(batches):
    (f1, d1), (f2, d2) = batches[1], batches[2]
    assert sorted(d1) == sorted(d2)
    for sid in d1:
        assert_same_files(f1, f2, sid)
    assert (f1 / "gradebook.csv").read_bytes() == (f2 / "gradebook.csv").read_bytes()



@pytest.mark.parametrize("jobs", [1, 2])
def test_shared_workers_give_the_batch_results(grader, submissions, batches, tmp_path,
                                               monkeypatch, jobs):
    """share_workers (verify's known examples): the submissions of a slot run one after
    another on one kept worker, restaged for each, and every file written is the one a
    worker of its own gives; each slot started one worker process, not one a submission."""
    import dataclasses

    from autograder.engine import driver
    started = []
    real_start = driver.Worker.start
    monkeypatch.setattr(driver.Worker, "start",
                        lambda self: (started.append(self.cfg.slot), real_start(self))[1])
    folder = tmp_path / "shared"
    shared = dataclasses.replace(grader, share_workers=frozenset(batches[1][1]))
    grade_batch(shared, list(submissions.values()), folder, jobs=jobs, resume=False)
    assert not shared._kept                     # stopped at the end of the batch
    if sandbox.fork_per_test():                 # else every test starts a fresh worker anyway
        assert 1 <= len(started) <= jobs < len(submissions), started
    for sid in batches[1][1]:
        assert_same_files(batches[1][0], folder, sid)

def test_resume_keeps_results_of_unchanged_submissions(grader, submissions, batches):
    folder, docs = batches[1]
    before = (folder / "reference" / RESULTS).read_bytes()
    kept = []
    results_json(grade_batch(grader, [submissions["reference"]], folder, jobs=1,
                on_done=lambda res, sid: kept.append((res, sid))))
    assert kept == [(None, "reference")]
    assert (folder / "reference" / RESULTS).read_bytes() == before


def test_a_submission_with_a_budget_of_its_own_in_a_batch(grader, submissions, tmp_path):
    """Grader.budgets (verify's examples with budget_s): that submission alone gets its budget,
    in the same batch as the others."""
    import dataclasses
    g = dataclasses.replace(grader, tests=grader.tests[:3], budgets={"stubs": 1e-9})
    res = {r.submission: r for r in grade_batch(g, [submissions["reference"], submissions["stubs"]],
                                                 tmp_path, jobs=2, resume=False)}
    assert all(t.passed for t in res["reference"].tests), res["reference"].tests
    cut = [t for t in res["stubs"].tests if "submission time budget exhausted" in t.feedback]
    assert len(cut) >= 2 and all(t.kind == "timeout" for t in cut), res["stubs"].tests


# -- the sandbox is real: one test each (the hostile suite has the broad versions) -------------
PROBE = '''

def _probe():
    import socket
    try:
        with open({secret!r}) as f:
            read = "read " + f.read()
    except OSError as err:
        read = f"read failed: {{type(err).__name__}}"
    try:
        socket.create_connection(("127.0.0.1", {port}), timeout=3).close()
        net = "connected"
    except OSError as err:
        net = f"no connection: {{type(err).__name__}}"
    raise RuntimeError(f"PROBE {{read}} | {{net}}")


def embedding_forward(*args, **kwargs):
    _probe()
'''


@pytest.fixture(scope="module")
def probe(tests, tmp_path_factory):
    """Grade one probe submission sandboxed and unsandboxed; return both feedback texts and
    how many connections the loopback listener saw from each."""
    if not sandbox.is_root() or not sandbox.setpriv_path():
        pytest.skip("needs root and setpriv: the uid drop only happens when grading as root")
    if not sandbox.bwrap_works():
        pytest.skip("needs bubblewrap (apt-get install -y bubblewrap) for the network cut")
    one = [t for t in tests if t.name == "embedding.forward_backward"]
    with temp_kit() as kit:
        kit = Path(kit)
        g = make_grader(A2, one, kit)
        # inside the kit folder, which the sandbox mounts: only the uid drop can keep it out
        secret = kit / "root_only_secret.txt"
        secret.write_text("TOPSECRET")
        os.chmod(secret, 0o600)
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        listener.settimeout(0.2)
        connections = []
        stop = threading.Event()

        def accept():
            while not stop.is_set():
                try:
                    c, _ = listener.accept()
                    connections.append(1)
                    c.close()
                except OSError:
                    pass
        th = threading.Thread(target=accept, daemon=True)
        th.start()
        sub_dir = write_reference(tmp_path_factory.mktemp("probe") / "probe")
        layers = sub_dir / "layers.py"
        layers.write_text(layers.read_text() + PROBE.format(secret=str(secret),
                                                            port=listener.getsockname()[1]))
        sub = load_submission(sub_dir, A2)
        found = {}
        try:
            for sandboxed in (True, False):
                before = len(connections)
                gr = Grader(A2, one, g.expected, kit, g.limits, sandboxed=sandboxed)
                res = gr.grade_one(sub)
                found[sandboxed] = (res.tests[0].feedback, len(connections) - before, res.layers)
        finally:
            stop.set()
            th.join(5)
            listener.close()
    return found


def test_privilege_drop_is_real(probe):
    text, _, layers = probe[True]
    assert "PROBE read failed: PermissionError" in text, text
    assert "TOPSECRET" not in text
    assert any(layer.startswith("unprivileged uid") for layer in layers)
    text, _, _ = probe[False]
    assert "PROBE read TOPSECRET" in text, text  # the same read works without the sandbox


def test_network_cut_is_real(probe):
    text, seen, layers = probe[True]
    assert "| no connection: " in text and seen == 0, text
    assert any(layer.startswith("bwrap") for layer in layers)
    text, seen, _ = probe[False]
    assert "| connected" in text and seen == 1, text  # the listener works without the sandbox
