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
