"""``check(...)`` in a notebook: which tests a name selects, and what it shows."""
from __future__ import annotations

from pathlib import Path

import pytest

from autograder.authoring import registry
from autograder.student.notebook import check, part_names, select

ROOT = Path(__file__).resolve().parents[1]


def parts(a: str, *wanted: str, folder: str = "solutions") -> set[str]:
    asg = registry.get(a)
    return {t.part for t in select(asg, ROOT / folder / asg.name, wanted)}


def test_part_names_expand_forward_backward_pairs():
    assert {"rnn_step_forward", "rnn_step_backward"} <= part_names("rnn_step_forward/backward")
    assert "WindowLM" in part_names("WindowLM.loss")
    assert {"sgd_step", "adam_step"} <= part_names("sgd_step/adam_step")


def test_a_function_name_selects_its_part():
    assert parts("a3", "rnn_step_backward") == {"rnn_step_forward/backward"}
    assert parts("a2", "affine_backward") == {"affine"}
    assert parts("a1", "KneserNey") == {"KneserNey"}


def test_a_file_name_selects_the_parts_defined_in_it():
    assert parts("a3", "clipping.py") == {"clip_grad_norm", "clip_grad_value", "first_nonfinite"}
    assert parts("a2", "layers.py") == {"affine", "concat", "embedding", "softmax_loss", "tanh"}
    # the stubs define the same names, so a student's folder selects the same tests
    assert parts("a4", "sampling.py", folder="assignments") == parts("a4", "sampling.py")


def test_an_unknown_name_lists_the_parts():
    with pytest.raises(ValueError, match="the parts of a3_rnn are: .*clip_grad_norm"):
        parts("a3", "rnn_step_sideways")
    with pytest.raises(ValueError, match="not one of the graded files"):
        parts("a3", "notes.py")


def test_check_grades_the_folder_in_the_sandbox_and_renders(monkeypatch):
    monkeypatch.chdir(ROOT / "solutions" / "a3_rnn")
    ok = check("clip_grad_value")
    assert ok.passed and "clip_value" in repr(ok) and "Total: " in repr(ok)
    assert "<pre" in ok._repr_html_() and "passed" in ok._repr_html_()
    todo = check("clip_grad_value", folder=ROOT / "assignments" / "a3_rnn")
    assert not todo.passed and "not implemented yet" in repr(todo)


@pytest.fixture
def kept_checks():
    """check() keeps its worker between calls; stopped after the test."""
    from autograder.student import notebook
    yield notebook
    notebook.close()


def assert_one_start(runner, workers: int) -> None:
    """``workers`` worker processes started in all; without the fork layer every test starts
    a fresh one (LMKIT_SANDBOX_LAYERS=-fork), and there is nothing to keep."""
    if runner.worker.layers.fork:
        assert runner.starts == workers


def _lay(folder: Path, src: Path) -> None:
    import shutil
    for f in src.glob("*.py"):
        shutil.copyfile(f, folder / f.name)


def test_a_notebooks_checks_share_one_worker_and_give_a_fresh_checks_results(
        kept_checks, tmp_path):
    """One folder rewritten between checks, as a student edits it: stubs, two buggy
    versions, stubs again. Each check on the kept worker gives, test by test, what a fresh
    `check` of the same files gives, and the worker started once."""
    import shutil

    from autograder.instructor.examples import list_examples, materialize
    from autograder.student.check import run_check

    a2 = registry.get("a2")
    by_name = {ex.name: ex for ex in list_examples(a2)}
    folder = tmp_path / a2.name
    shutil.copytree(a2.stub_dir, folder)
    versions = {"stubs": a2.stub_dir}
    for name in ("bias_not_summed", "partial"):
        versions[name] = materialize(by_name[name], a2, tmp_path / name)
    seen = []
    for name in ("stubs", "bias_not_summed", "partial", "stubs"):
        _lay(folder, versions[name])
        kept = kept_checks.check(folder=folder).result
        fresh = run_check(a2, versions[name], workers=1)
        assert [(t.name, t.score, t.kind, t.feedback) for t in kept.tests] == \
               [(t.name, t.score, t.kind, t.feedback) for t in fresh.tests], name
        assert kept.layers == fresh.layers
        seen.append(kept.score)
    assert seen[0] == seen[3] == 0 and 0 < seen[1] and 0 < seen[2] < kept.max_score
    assert_one_start(kept_checks._KEPT[a2.name][1], 1)


_MARKED = '''
import os as _os
# a file the last run left in the working folder would make this version fail to import
if _os.path.exists("marker") and open("marker").read() != {version!r}:
    raise RuntimeError("the last check's files are still here")
with open("marker", "w") as _f:
    _f.write({version!r})
'''


def test_a_kept_worker_keeps_nothing_of_the_last_check_in_its_working_folder(
        kept_checks, tmp_path):
    import shutil

    a3 = registry.get("a3")
    folder = tmp_path / a3.name
    shutil.copytree(ROOT / "solutions" / a3.name, folder)
    code = (folder / "clipping.py").read_text()
    for version in ("one", "two"):
        (folder / "clipping.py").write_text(code + _MARKED.format(version=version))
        res = kept_checks.check("clip_grad_value", folder=folder)
        assert res.passed, repr(res)
    assert_one_start(kept_checks._KEPT[a3.name][1], 1)


def test_a_check_that_needs_torch_replaces_a_kept_worker_without_it(kept_checks):
    """a5's numpy layers start a worker without torch; its torch parts need one with it."""
    folder = ROOT / "solutions" / "a5_attention"
    numpy_part = kept_checks.check("layernorm_forward", folder=folder)
    runner = kept_checks._KEPT["a5_attention"][1]
    assert numpy_part.passed and "torch" not in runner.worker.cfg.preload
    torch_part = kept_checks.check("models.py", folder=folder)
    assert torch_part.passed and "torch" in runner.worker.cfg.preload
    assert_one_start(runner, 2)
    again = kept_checks.check("layernorm_forward", folder=folder)    # the torch worker serves it
    assert again.passed and "torch" in runner.worker.cfg.preload
    assert_one_start(runner, 2)
