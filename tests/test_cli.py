"""`python -m autograder`: exit codes and the words a user reads.

Run as a real subprocess (as a student would), with a wide terminal so that rich does not
wrap the messages being checked.
"""
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from autograder.authoring import registry as asg
from autograder.instructor.stubs import make_stub_source

ROOT = Path(__file__).resolve().parents[1]
A2 = asg.get("a2")


def cli(*args, cwd=ROOT):
    env = dict(os.environ, COLUMNS="400", TERM="dumb", NO_COLOR="1")
    env["PYTHONPATH"] = str(ROOT)
    r = subprocess.run([sys.executable, "-m", "autograder", *map(str, args)], cwd=cwd, env=env,
                       capture_output=True, text=True, timeout=300)
    return r.returncode, r.stdout, r.stderr


@pytest.fixture(scope="module")
def stubs(tmp_path_factory):
    dest = tmp_path_factory.mktemp("stubs")
    for f in A2.graded_files:
        src = A2.solution_dir / f
        (dest / f).write_text(make_stub_source(src.read_text(), src))
    return dest


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    dest = tmp_path_factory.mktemp("reference")
    for f in A2.graded_files:
        (dest / f).write_bytes((A2.solution_dir / f).read_bytes())
    return dest


def test_unknown_assignment_exits_2_and_names_the_valid_ones(reference):
    code, out, err = cli("check", "a9", "--submission", reference)
    assert code == 2
    assert "unknown assignment 'a9'" in err
    for name in asg.available():
        assert f"{name.split('_')[0]} ({name})" in err
    code, _, err = cli("grade", reference, "--assignment", "nope", "--out", "/tmp/unused")
    assert code == 2 and "unknown assignment 'nope'" in err


def test_missing_path_exits_2(tmp_path):
    missing = tmp_path / "no_such_submission"
    code, out, err = cli("grade", missing, "--assignment", "a2", "--out", tmp_path / "out")
    assert code == 2
    assert f"{missing}: no such file or folder" in err
    assert not (tmp_path / "out").exists()
    code, out, err = cli("check", "a2", "--submission", missing)
    assert code == 2
    assert f"{missing}: no such file or folder" in out + err


def test_check_on_stubs_exits_1_with_not_implemented(stubs):
    code, out, err = cli("check", "a2", "--submission", stubs, "-k", "embedding", "-k", "affine")
    assert code == 1, out + err
    assert "not implemented yet" in out
    assert "Total: 0 / " in out
    assert "embedding.forward_backward" in out and "affine.gradcheck" in out
    assert "model.loss" not in out  # -k selected only the named tests


def test_check_on_the_reference_exits_0(reference):
    code, out, err = cli("check", "a2", "--submission", reference)
    assert code == 0, out + err
    total = [line for line in out.splitlines() if line.startswith("Total:")]
    assert total, out
    got, of = total[0].split()[1], total[0].split()[3]
    assert got == of, total[0]
    assert "not implemented" not in out


def test_submit_writes_exactly_the_graded_files_and_a_manifest(reference, tmp_path):
    (reference / "notes.txt").write_text("not graded")
    (reference / "scratch.py").write_text("x = 1\n")
    out_zip = tmp_path / "mine.zip"
    code, out, err = cli("submit", "a2", "--folder", reference, "--out", out_zip, "--no-check")
    assert code == 0, out + err
    assert f"Wrote {out_zip}" in out
    with zipfile.ZipFile(out_zip) as zf:
        assert sorted(zf.namelist()) == sorted([*A2.graded_files, "submission.json"])
        manifest = json.loads(zf.read("submission.json"))
        for f in A2.graded_files:
            assert zf.read(f) == (A2.solution_dir / f).read_bytes()
    assert manifest["assignment"] == "a2_window"
    assert sorted(manifest["files"]) == sorted(A2.graded_files)
    import hashlib
    for f, meta in manifest["files"].items():
        data = (A2.solution_dir / f).read_bytes()
        assert meta == {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    assert not (tmp_path / "mine.zip.tmp").exists()


def test_submit_refuses_a_folder_without_the_graded_files(tmp_path):
    code, out, err = cli("submit", "a2", "--folder", tmp_path, "--out", tmp_path / "x.zip",
                         "--no-check")
    assert code == 2
    assert "missing layers.py" in out + err
    assert not (tmp_path / "x.zip").exists()


def test_doctor_prints_the_layers():
    code, out, err = cli("doctor")
    assert code == 0
    line = out.split("Sandbox layers this machine offers: ", 1)[1]
    for layer in ("subprocess", "python -I", "scrubbed env", "wall-clock timeout", "rlimits"):
        assert layer in line


def test_bad_usage_exits_2():
    code, _, err = cli("grade")
    assert code == 2 and "the following arguments are required" in err
