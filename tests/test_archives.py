"""Untrusted archives: every malformed or malicious zip gets a clear result, never a crash.

The zips are made here, at run time, in temporary folders. Loading is checked on its own
(``load_submission``: what is taken, what is refused and why), then all of them go through
one batch that must give each one a result file.
"""
from __future__ import annotations

import json
import os
import stat
import zipfile
from pathlib import Path

import pytest

from autograder.authoring import registry as asg
from autograder.engine import intake
from autograder.engine.intake import load_submission

A2 = asg.get("a2_window")
SOL = {f: (A2.solution_dir / f).read_bytes() for f in A2.graded_files}


def zip_of(path: Path, members: list[tuple[str | zipfile.ZipInfo, bytes]],
           compression=zipfile.ZIP_DEFLATED) -> Path:
    with zipfile.ZipFile(path, "w", compression) as zf:
        for name, data in members:
            zf.writestr(name, data)
    return path


def symlink_info(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name)
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    info.create_system = 3  # unix
    return info


def make_archives(tmp: Path) -> dict[str, Path]:
    z = {}
    honest = [(f, d) for f, d in SOL.items()]
    z["nested"] = zip_of(tmp / "nested.zip",
                         [(f"home/alice/work/a2_window/{f}", d) for f, d in honest])
    z["zip_slip"] = zip_of(tmp / "zip_slip.zip", [("../../layers.py", SOL["layers.py"]),
                                                  ("a/../../models.py", SOL["models.py"]),
                                                  ("train.py", SOL["train.py"])])
    z["absolute"] = zip_of(tmp / "absolute.zip", [("/etc/layers.py", SOL["layers.py"]),
                                                  ("C:/models.py", SOL["models.py"]),
                                                  ("train.py", SOL["train.py"])])
    z["symlink"] = zip_of(tmp / "symlink.zip", [(symlink_info("layers.py"), b"/etc/shadow"),
                                                ("models.py", SOL["models.py"]),
                                                ("train.py", SOL["train.py"])])
    # one member of 1.9 MB of zeros: a compression ratio near 1000
    z["bomb_ratio"] = zip_of(tmp / "bomb_ratio.zip", [("layers.py", b"\0" * (19 * 2**20 // 10)),
                                                      ("models.py", SOL["models.py"]),
                                                      ("train.py", SOL["train.py"])])
    # 120 members of 2 MB of zeros: 240 MB expanded from a few hundred KB
    z["bomb_total"] = zip_of(tmp / "bomb_total.zip",
                             [(f"junk/{i}.bin", b"\0" * 2**21) for i in range(120)] + honest)
    z["bomb_count"] = zip_of(tmp / "bomb_count.zip",
                             [(f"many/{i}", b"") for i in range(intake.MAX_MEMBERS + 1)] + honest)
    z["duplicates"] = zip_of(tmp / "duplicates.zip",
                             [("layers.py", SOL["layers.py"]), ("v2/layers.py", b"raise SystemExit\n"),
                              ("models.py", SOL["models.py"]), ("train.py", SOL["train.py"])])
    # an entry whose name is Latin-1 bytes, not UTF-8 (as old Windows zip tools write them):
    # written with an ASCII name of the same length, then patched in the raw bytes
    z["non_utf8"] = zip_of(tmp / "non_utf8.zip", honest + [("notes-XY.txt", b"x")])
    raw = z["non_utf8"].read_bytes()
    z["non_utf8"].write_bytes(raw.replace(b"notes-XY.txt", b"notes-\xe9\xe8.txt"))
    z["empty"] = zip_of(tmp / "empty.zip", [])
    (tmp / "not_a_zip.zip").write_bytes(b"this is not a zip archive\n" * 40)
    z["not_a_zip"] = tmp / "not_a_zip.zip"
    good = zip_of(tmp / "truncated_src.zip", honest).read_bytes()
    (tmp / "truncated.zip").write_bytes(good[: len(good) // 2])
    z["truncated"] = tmp / "truncated.zip"
    z["no_graded_files"] = zip_of(tmp / "no_graded_files.zip", [("README.txt", b"hi")])
    return z


@pytest.fixture(scope="module")
def archives(tmp_path_factory):
    return make_archives(tmp_path_factory.mktemp("zips"))


def test_nested_folders_are_found(archives):
    sub = load_submission(archives["nested"], A2)
    assert sub.fatal is None and sub.files == SOL and not sub.problems


@pytest.mark.parametrize("name,refused", [("zip_slip", ["layers.py", "models.py"]),
                                          ("absolute", ["layers.py", "models.py"]),
                                          ("symlink", ["layers.py"])])
def test_escaping_entries_are_refused(archives, name, refused, tmp_path):
    cwd = os.getcwd()
    os.chdir(tmp_path)  # an extraction bug would write next to here
    try:
        sub = load_submission(archives[name], A2)
    finally:
        os.chdir(cwd)
    assert sub.fatal is None and set(sub.files) == {"layers.py", "models.py", "train.py"} - set(refused)
    assert sub.files["train.py"] == SOL["train.py"]
    assert any("escapes its folder" in p or "symbolic link" in p for p in sub.problems), sub.problems
    assert list(tmp_path.iterdir()) == [] and not Path("/etc/layers.py").exists()


def test_zip_bombs_are_refused(archives):
    ratio = load_submission(archives["bomb_ratio"], A2)
    assert "layers.py" not in ratio.files and any("compression ratio" in p for p in ratio.problems)
    for name, phrase in (("bomb_total", "zip bomb"), ("bomb_count", "entries")):
        sub = load_submission(archives[name], A2)
        assert sub.fatal and phrase in sub.fatal and not sub.files, (name, sub.fatal)


def test_duplicates_take_the_first_and_say_so(archives):
    sub = load_submission(archives["duplicates"], A2)
    assert sub.files["layers.py"] == SOL["layers.py"]
    assert any("more than once" in p for p in sub.problems)


def test_non_utf8_names_do_not_break_loading(archives):
    with zipfile.ZipFile(archives["non_utf8"]) as zf:
        names = [i for i in zf.infolist() if i.filename.startswith("notes-")]
        assert names and not names[0].flag_bits & 0x800 and names[0].filename == "notes-\u0398\u03a6.txt"
    sub = load_submission(archives["non_utf8"], A2)
    assert sub.fatal is None and sub.files == SOL


@pytest.mark.parametrize("name,phrase", [("empty", "empty"), ("not_a_zip", "not a zip"),
                                         ("truncated", "zip"), ("no_graded_files", "none of the graded")])
def test_malformed_archives_get_a_clear_message(archives, name, phrase):
    sub = load_submission(archives[name], A2)
    assert sub.fatal and phrase in sub.fatal and archives[name].name in sub.fatal, sub.fatal


@pytest.mark.slow
def test_a_batch_of_bad_archives_gives_every_one_a_result(archives, tmp_path):
    """Through the real grader (fatal archives never reach a worker; the others do)."""
    from autograder.engine.batch import grade_batch, make_grader, temp_kit
    from autograder.reporters.gradescope import results_json
    from autograder.authoring.declare import load_tests

    tests = [t for t in load_tests(A2.name, include_hidden=False)
             if t.name in ("concat.forward_backward", "train.lr_schedule")]
    with temp_kit() as kit:
        grader = make_grader(A2, tests, Path(kit))
        docs = results_json(grade_batch(grader, sorted(archives.values()), tmp_path / "out", jobs=2,
                           resume=False))
    by_id = {d["extra_data"]["submission"]: d for d in docs}
    assert set(by_id) == set(archives)
    for name, doc in by_id.items():
        saved = json.loads((tmp_path / "out" / name / "results.json").read_text())
        assert saved["score"] == doc["score"] and len(saved["tests"]) == len(tests)
    full = sum(t.points for t in tests)
    for name in ("nested", "non_utf8", "duplicates"):
        assert by_id[name]["score"] == full, (name, by_id[name]["output"])
    # layers.py refused: concat (layers.py) fails, the learning-rate test (train.py) passes
    for name in ("zip_slip", "absolute", "symlink", "bomb_ratio"):
        got = {t["extra_data"]["test"]: t["score"] for t in by_id[name]["tests"]}
        assert got == {"concat.forward_backward": 0, "train.lr_schedule": 1}, (name, got)
        assert "Note:" in by_id[name]["output"], name
    for name in ("empty", "not_a_zip", "truncated", "bomb_total", "bomb_count", "no_graded_files"):
        assert by_id[name]["score"] == 0 and "Not graded" in by_id[name]["output"], name
    assert (tmp_path / "out" / "gradebook.csv").read_text().count("\n") == len(archives) + 1
