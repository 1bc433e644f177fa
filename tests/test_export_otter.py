"""The otter export, graded by the real `otter run` (no Docker needed): a bridged submission
zip (one root .py, graded files in a2_window/) gets, test by test, the scores that
`python -m autograder grade` gives the same files."""
from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from autograder.authoring import registry as asg
from autograder.instructor.examples import list_examples, materialize
from autograder.instructor.export.otter import ROOT_FILE, pack_submission
from harness import kit_command
from kit_grades import reference_and_bug

# sandbox batches and platform tools: left out by `python3 kit.py test --fast`
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
A2 = asg.get("a2_window")
OTTER = Path(sys.executable).parent / "otter"


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """Export, two submissions (reference and a known bug), `otter run` on both, and `grade`
    on the same files (kit_grades: one run shared by the export tests)."""
    if not OTTER.exists():
        pytest.skip(f"otter-grader is not installed in this venv ({OTTER} missing)")
    tmp = tmp_path_factory.mktemp("otter")
    ag = tmp / "a2-otter.zip"
    kit_command("export", "otter", "a2", ag)
    bug = next(e for e in list_examples(A2) if e.name == "softmax_no_max")
    folders = {"correct": A2.solution_dir, "buggy": materialize(bug, A2, tmp / "subs" / "buggy")}
    otter = {}
    for name, folder in folders.items():
        sub = pack_submission(A2, folder, tmp / f"{name}.zip")
        out = tmp / f"out-{name}"
        out.mkdir()
        r = subprocess.run([str(OTTER), "run", "-a", str(ag), "-o", str(out), str(sub)],
                           cwd=tmp, capture_output=True, text=True, timeout=600)
        assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
        otter[name] = json.loads((out / "results.json").read_text())
    grades = reference_and_bug(tmp_path_factory)   # `grade` on the same files, as one run
    ours = {"buggy": grades[bug.name], "correct": grades["reference"]}
    return ag, ours, otter


def per_test(otter_doc: dict) -> dict[str, float]:
    return {t["name"]: t["score"] for t in otter_doc["tests"] if "max_score" in t}


# A worker killed from outside (another grader on this shared machine reusing the same worker
# uid: reported to the engine's owner) is an engine event, not an export disagreement.
DIED = "the worker died"


def died(ours_doc: dict, otter_doc: dict) -> set[str]:
    names = {t["extra_data"]["test"] for t in ours_doc["tests"] if DIED in t["output"]}
    return names | {t["name"] for t in otter_doc["tests"] if DIED in t.get("output", "")}


@pytest.mark.parametrize("name", ["correct", "buggy"])
def test_otter_run_agrees_with_grade(graded, name):
    _, ours, otter = graded
    skip = died(ours[name], otter[name])
    assert len(skip) <= 3, f"too many workers died to compare: {sorted(skip)}"
    mine = {t["extra_data"]["test"]: t["score"] for t in ours[name]["tests"]}
    theirs = per_test(otter[name])
    assert set(theirs) == set(mine)
    mine = {k: v for k, v in mine.items() if k not in skip}
    theirs = {k: v for k, v in theirs.items() if k not in skip}
    assert theirs == pytest.approx(mine), {k: (theirs.get(k), v) for k, v in mine.items()
                                          if theirs.get(k) != v}
    if not skip:
        assert sum(theirs.values()) == pytest.approx(ours[name]["score"])
    maxima = {t["name"]: t["max_score"] for t in otter[name]["tests"] if "max_score" in t}
    assert sum(maxima.values()) == pytest.approx(ours[name]["extra_data"]["max_score"])


def test_the_bug_loses_points_with_feedback(graded):
    _, ours, otter = graded
    assert sum(per_test(otter["buggy"]).values()) < sum(per_test(otter["correct"]).values())
    lost = [t for t in ours["buggy"]["tests"] if t["status"] == "failed"]
    text = json.dumps(otter["buggy"])
    assert lost and all(t["extra_data"]["test"] in text for t in lost)


def test_autograder_zip_layout(graded):
    ag, ours, _ = graded
    with zipfile.ZipFile(ag) as zf:
        names = set(zf.namelist())
        config = json.loads(zf.read("otter_config.json"))
    assert config["lang"] == "python"
    n_tests = len(ours["correct"]["tests"])
    assert len([n for n in names if n.startswith("tests/") and n.endswith(".py")]) == n_tests
    assert "lmkit/autograder/suites/a2_window/hidden.py" in names
    assert not any(n.startswith("files/") for n in names), "files/ is copied beside the submission"


def test_submission_zip_has_one_root_py(tmp_path):
    z = pack_submission(A2, A2.solution_dir, tmp_path / "s.zip")
    with zipfile.ZipFile(z) as zf:
        roots = [n for n in zf.namelist() if "/" not in n and n.endswith(".py")]
        assert roots == [ROOT_FILE]
        assert sorted(zf.namelist()) == sorted([ROOT_FILE] + [f"a2_window/{f}" for f in A2.graded_files])
    with pytest.raises(FileNotFoundError, match="missing"):
        pack_submission(A2, tmp_path, tmp_path / "t.zip")
