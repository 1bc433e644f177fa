"""The Gradescope export, run as Gradescope runs it: the zip unpacked into an `autograder`
tree (LMKIT_GRADESCOPE_ROOT), a submission in submission/, `run_autograder` executed with this
machine's venv python (LMKIT_PYTHON) instead of the one setup.sh builds, and results.json
checked against Gradescope's schema (docs/design.md) for correct, buggy, hostile, empty and
crashing cases."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from autograder.authoring import registry as asg
from autograder.instructor.examples import list_examples, materialize
from harness import kit_command
from kit_grades import reference_and_bug

# platform tools: left out by `python3 kit.py test --fast`
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
A2 = asg.get("a2_window")

FORMATS = {"text", "html", "simple_format", "md", "ansi"}
VISIBILITIES = {"hidden", "after_due_date", "after_published", "visible"}
TOP = {"score": (int, float), "execution_time": (int, float), "output": str,
       "output_format": str, "visibility": str, "stdout_visibility": str, "extra_data": dict,
       "leaderboard": list, "tests": list}
TEST = {"score": (int, float), "max_score": (int, float), "status": str, "name": str,
        "number": str, "output": str, "output_format": str, "tags": list, "visibility": str,
        "extra_data": dict}


def schema_errors(doc) -> list[str]:
    """Gradescope's results.json schema as docs/design.md describes it: types and allowed values."""
    errs = []
    if not isinstance(doc, dict):
        return [f"top level is {type(doc).__name__}, not an object"]
    for k, v in doc.items():
        if k not in TOP:
            errs.append(f"unknown top-level key {k!r}")
        elif isinstance(v, bool) or not isinstance(v, TOP[k]):
            errs.append(f"{k} is {type(v).__name__}")
    if "score" not in doc and not any("score" in t for t in doc.get("tests", [])):
        errs.append("no score at the top and none in tests")
    for k in ("output_format",):
        if k in doc and doc[k] not in FORMATS:
            errs.append(f"{k}={doc[k]!r}")
    for k in ("visibility", "stdout_visibility"):
        if k in doc and doc[k] not in VISIBILITIES:
            errs.append(f"{k}={doc[k]!r}")
    for i, t in enumerate(doc.get("tests", [])):
        if not isinstance(t, dict):
            errs.append(f"tests[{i}] is not an object")
            continue
        for k, v in t.items():
            if k not in TEST:
                errs.append(f"tests[{i}]: unknown key {k!r}")
            elif isinstance(v, bool) or not isinstance(v, TEST[k]):
                errs.append(f"tests[{i}].{k} is {type(v).__name__}")
        if t.get("status", "passed") not in ("passed", "failed"):
            errs.append(f"tests[{i}].status={t['status']!r}")
        if t.get("visibility", "visible") not in VISIBILITIES:
            errs.append(f"tests[{i}].visibility={t['visibility']!r}")
        if t.get("output_format", "text") not in FORMATS:
            errs.append(f"tests[{i}].output_format={t['output_format']!r}")
        if not all(isinstance(x, str) for x in t.get("tags", [])):
            errs.append(f"tests[{i}].tags holds a non-string")
        if "score" in t and "max_score" in t and not 0 <= t["score"] <= t["max_score"]:
            errs.append(f"tests[{i}].score {t['score']} outside [0, {t['max_score']}]")
    return errs


def test_validator_rejects_what_gradescope_rejects():
    assert schema_errors({"score": 1, "tests": []}) == []
    assert schema_errors({"score": "1"})
    assert schema_errors({"score": 1, "visibility": "public"})
    assert schema_errors({"tests": [{"score": 1, "max_score": 1, "status": "ok"}]})
    assert schema_errors({"score": 1, "tests": [{"name": "x", "score": 2, "max_score": 1}]})
    assert schema_errors({"score": 1, "bogus": 2})


@pytest.fixture(scope="module")
def autograder_zip(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("gs") / "a2.zip"
    kit_command("export", "gradescope", "a2", out)
    return out


def run_in_container(zip_path: Path, tmp: Path, files: dict[str, str | bytes],
                     break_source=None) -> tuple[dict, Path]:
    """Lay out Gradescope's /autograder under tmp, run run_autograder, return results.json."""
    root = tmp / "autograder"
    for d in ("source", "submission", "results"):
        (root / d).mkdir(parents=True)
    with zipfile.ZipFile(zip_path) as zf:
        zf.extractall(root / "source")
    (root / "submission_metadata.json").write_text("{}")
    for name, data in files.items():
        p = root / "submission" / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data if isinstance(data, bytes) else data.encode())
    if break_source:
        break_source(root / "source")
    env = dict(os.environ, LMKIT_GRADESCOPE_ROOT=str(root), LMKIT_PYTHON=sys.executable)
    r = subprocess.run(["bash", str(root / "source" / "run_autograder")], env=env,
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    text = (root / "results" / "results.json").read_text()
    doc = json.loads(text)
    assert schema_errors(doc) == [], (schema_errors(doc), r.stdout, r.stderr)
    return doc, root


def solution_files(folder: str = "") -> dict[str, str]:
    return {folder + f: (A2.solution_dir / f).read_text() for f in A2.graded_files}


def test_zip_layout(autograder_zip):
    with zipfile.ZipFile(autograder_zip) as zf:
        names = set(zf.namelist())
        modes = {i.filename: i.external_attr >> 16 for i in zf.infolist()}
        setup = zf.read("setup.sh").decode()
    for must in ("setup.sh", "run_autograder", "requirements.txt", "requirements.lock",
                 "autograder/suites/a2_window/hidden.py", "autograder/instructor/export/gradescope.py",
                 "solutions/a2_window/layers.py", "lmcore/vocab.py"):
        assert must in names, must
    assert modes["run_autograder"] & 0o111 and modes["setup.sh"] & 0o111
    assert any(n.startswith(".cache/expected/a2_window/") for n in names), "hidden expected outputs"
    assert "python3.11 -m venv" in setup and "bubblewrap" in setup
    assert "-r \"$SRC/requirements.txt\" -c \"$SRC/requirements.lock\"" in setup
    assert not any(n.startswith("autograder/suites/") and n.split("/")[2] not in ("a2_window",)
                   for n in names if n.count("/") >= 3), "other assignments' suites ship"


def test_correct_submission_full_marks_with_visibility(autograder_zip, tmp_path):
    # uploaded as a folder: Gradescope keeps the student's folder structure
    doc, _ = run_in_container(autograder_zip, tmp_path, solution_files("a2_window/"))
    max_score = sum(t["max_score"] for t in doc["tests"])
    failed = [(t["name"], t["output"][:200]) for t in doc["tests"] if t["status"] != "passed"]
    assert doc["score"] == pytest.approx(sum(t["score"] for t in doc["tests"]))
    # the reference fails only tests whose committed expected data is stale (if any)
    assert doc["score"] >= max_score - sum(t["max_score"] for t in doc["tests"]
                                           if t["status"] != "passed"), failed
    assert doc["visibility"] == "visible" and doc["stdout_visibility"] == "hidden"
    vis = {t["extra_data"]["test"]: t["visibility"] for t in doc["tests"]}
    public = {t.name for t in __import__("autograder.authoring.declare", fromlist=["x"]).load_tests(
        "a2_window", include_hidden=False)}
    assert public and all(vis[n] == "visible" for n in public)
    hidden = [n for n in vis if n not in public]
    assert hidden and all(vis[n] == "after_published" for n in hidden)
    # the container's layers are this machine's (bubblewrap where it is installed and works)
    from autograder.engine import sandbox
    assert sandbox.short_names(doc["extra_data"]["sandbox"]) == \
        sandbox.short_names(sandbox.available_layers()), doc["extra_data"]["sandbox"]


def test_buggy_submission_agrees_with_grade(autograder_zip, tmp_path, tmp_path_factory):
    ex = next(e for e in list_examples(A2) if e.name == "softmax_no_max")
    folder = materialize(ex, A2, tmp_path / "buggy")
    files = {f: (folder / f).read_text() for f in A2.graded_files}
    doc, _ = run_in_container(autograder_zip, tmp_path / "c", files)
    ours = reference_and_bug(tmp_path_factory)[ex.name]   # `grade -j 1` on the same files
    # a worker killed from outside (another grader on this shared machine reusing the worker
    # uid: reported to the engine's owner) is an engine event, not an export disagreement
    died = {t["name"] for d in (doc, ours) for t in d["tests"] if "the worker died" in t["output"]}
    assert len(died) <= 3, sorted(died)
    theirs = {t["name"]: (t["score"], t["output"][:300]) for t in doc["tests"] if t["name"] not in died}
    mine = {t["name"]: (t["score"], t["output"][:300]) for t in ours["tests"] if t["name"] not in died}
    assert {k: v[0] for k, v in theirs.items()} == {k: v[0] for k, v in mine.items()}, \
        [(k, theirs[k], mine.get(k)) for k in theirs if theirs[k][0] != mine.get(k, (None,))[0]]
    assert ours["score"] < ours["extra_data"]["max_score"]
    if not died:
        assert doc["score"] == ours["score"]
    lost = [t for t in doc["tests"] if t["status"] == "failed"]
    # the tests the example's manifest says the bug costs are among those lost
    assert any(ex.expected_score(t["extra_data"]["test"], t["max_score"]) < t["max_score"]
               for t in lost), [t["name"] for t in lost]


HOSTILE = '''
import pathlib
_seen = []
for _p in ["{root}/source/solutions/a2_window/layers.py",
           "{root}/source/autograder/suites/a2_window/hidden.py",
           "{root}/submission_metadata.json"]:
    try:
        _seen.append("READ " + pathlib.Path(_p).read_text()[:80].replace("\\n", " "))
    except Exception as _e:
        _seen.append(type(_e).__name__)
try:
    pathlib.Path("{root}/results/results.json").write_text('{{"score": 1000, "tests": []}}')
    _seen.append("WROTE results.json")
except Exception as _e:
    _seen.append(type(_e).__name__)
raise RuntimeError("HOSTILE " + " | ".join(_seen))
'''


def test_hostile_submission_cannot_read_source_or_forge_results(autograder_zip, tmp_path):
    root = tmp_path / "autograder"
    files = solution_files()
    files["layers.py"] = files["layers.py"] + HOSTILE.format(root=root)  # runs at import
    doc, root = run_in_container(autograder_zip, tmp_path, files)
    outputs = "\n".join(t["output"] for t in doc["tests"])
    assert "HOSTILE" in outputs, "the hostile module never ran: the test proves nothing"
    from autograder.engine import sandbox
    if "bwrap" not in sandbox.short_names(doc["extra_data"]["sandbox"]):
        # Gradescope's image has bubblewrap (setup.sh installs it); without it here, the
        # mount whitelist that hides source/ and results/ is absent
        pytest.skip("not contained here: needs bwrap "
                    f"({sandbox.bwrap_missing_reason()}; apt-get install -y bubblewrap)")
    assert "READ" not in outputs and "WROTE" not in outputs, outputs[:2000]
    assert doc["score"] < 1000
    layer_tests = [t for t in doc["tests"] if "HOSTILE" in t["output"]]
    assert all(t["score"] == 0 for t in layer_tests)
    assert not (root / "results" / ".forged").exists()


def test_nothing_gradable_and_engine_crash_still_write_results(autograder_zip, tmp_path):
    doc, _ = run_in_container(autograder_zip, tmp_path / "a", {"notes.txt": "hello"})
    assert doc["score"] == 0 and "none of the graded files" in doc["output"]

    def break_engine(source: Path):
        (source / "autograder" / "suites" / "a2_window" / "hidden.py").write_text("raise SystemExit(7)\n")
    doc, _ = run_in_container(autograder_zip, tmp_path / "b", solution_files(), break_engine)
    assert doc["score"] == 0 and doc["tests"] == []
    assert "could not grade" in doc["output"]

    def break_python(source: Path):
        (source / "autograder" / "instructor" / "export" / "gradescope.py").write_text("import os; os._exit(3)\n")
    doc, _ = run_in_container(autograder_zip, tmp_path / "c", solution_files(), break_python)
    assert doc["score"] == 0 and "crashed" in doc["output"]
