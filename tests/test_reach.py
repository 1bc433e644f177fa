"""verify's shortcut: an example runs only the tests its edits can reach (instructor/reach.py).

The shortcut is sound only if it gives every example exactly what grading it on every test
gives; the batch test below grades a2's examples both ways and compares test by test. The
unit tests pin what counts as a change.
"""
from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from autograder.authoring import registry
from autograder.authoring.declare import load_tests
from autograder.instructor import reach
from autograder.instructor.examples import list_examples

BASE = '''"""a module"""
import numpy as np

SCALE = 2.0


def helper(x):
    return x * SCALE


def f(x, k=1):
    """Doc."""
    def inner(y):
        return y + k
    return inner(helper(x))


class Model:
    size = 3

    def __init__(self, n):
        self.n = n

    @property
    def width(self):
        return self.n

    @width.setter
    def width(self, v):
        self.n = v

    def forward(self, x):
        return x * self.n
'''


def units(after: str) -> set:
    return reach.changed_units("m.py", BASE, after)


@pytest.mark.parametrize("old,new,want", [
    ("return x * self.n", "return x + self.n", {("m.py", "Model.forward")}),
    ("return y + k", "return y - k", {("m.py", "f")}),                       # nested: the outer
    ('"""Doc."""', '"""Other doc."""', {("m.py", "f")}),
    ("self.n = v", "self.n = -v", {("m.py", "Model.width")}),                # the setter
    ("SCALE = 2.0", "SCALE = 3.0", {("m.py", "<module>")}),
    ("size = 3", "size = 4", {("m.py", "<module>")}),                        # a class body
    ("def f(x, k=1):", "def f(x, k=2):", {("m.py", "<module>"), ("m.py", "f")}),  # defaults run at import
    ("    @property\n", "    @staticmethod\n", {("m.py", "<module>"), ("m.py", "Model.width")}),
    ("def helper(x):", "def helper2(x):\n    return x\n\n\ndef helper(x):",
     {("m.py", "<module>"), ("m.py", "helper2")}),                           # a function added
    ("import numpy as np", "import numpy as np  # a comment", set()),       # no change in the code
    ("\n\ndef helper", "\n\n\n\n\ndef helper", set()),                      # lines moved, code the same
    ("return x * SCALE", "return x * SCALE +", {("m.py", "<module>")}),     # does not parse
])
def test_changed_units(old, new, want):
    assert BASE.count(old) == 1
    assert units(BASE.replace(old, new)) == want


def test_unchanged_source_changes_nothing():
    assert units(BASE) == set()


def test_tests_reached_by_a_unit():
    traced = {"t1": reach.Traced(None, frozenset({("m.py", "f"), ("m.py", "<module>")})),
              "t2": reach.Traced(None, frozenset({("m.py", "<module>"), ("m.py", "helper")})),
              "t3": reach.Traced(None, frozenset())}          # never imported m.py
    assert reach.tests_reached({("m.py", "f")}, traced) == {"t1"}
    assert reach.tests_reached({("m.py", "<module>")}, traced) == {"t1", "t2"}
    assert reach.tests_reached({("other.py", "f")}, traced) == set()


def test_examples_that_are_not_plain_edits_run_everything():
    a = registry.get("a2_window")
    for ex in list_examples(a):
        m = ex.manifest
        plain = (not ex.name.startswith("hostile/") and m.get("base", "solution") == "solution"
                 and not m.get("files") and not m.get("archive"))
        got = reach.example_units(ex, a)
        assert (got is not None) == plain, ex.name
        if plain and m.get("edits"):
            assert got, f"{ex.name}: its edits changed nothing"


def test_the_trace_names_the_functions_each_test_calls():
    a = registry.get("a2_window")
    tests = [t for t in load_tests(a.name) if t.name in ("embedding.forward_backward",
                                                         "train.lr_schedule")]
    traced = reach.trace_reference(a, tests)
    emb, lr = traced["embedding.forward_backward"].reached, traced["train.lr_schedule"].reached
    assert ("layers.py", "embedding_forward") in emb and ("layers.py", "<module>") in emb
    assert ("train.py", "lr_at") in lr
    assert ("train.py", "lr_at") not in emb


def test_a_sandboxed_run_never_reads_a_trace():
    """A submission could write any reached.json; only the trusted reference's is read."""
    from autograder.engine.driver import RunConfig
    from autograder.engine.pool import run_tests
    from autograder.engine.staging import public_kit, reference_submission, stage
    a = registry.get("a2_window")
    tests = [t for t in load_tests(a.name) if t.name == "train.lr_schedule"]
    with tempfile.TemporaryDirectory() as tmp:
        st = stage(reference_submission(a), a, Path(tmp) / "s")
        kit = public_kit(Path(tmp) / "kit")
        runs, _ = run_tests(st, tests, RunConfig(a.name, kit, sandboxed=True, trace=True))
    assert runs[0].status == "ok" and runs[0].reached is None


@pytest.mark.slow
def test_reach_gives_every_example_what_grading_every_test_gives(tmp_path):
    """Every result the shortcut assumes, for every example of a2, against grading that
    example on exactly those tests in the sandbox (the tests it does run are graded the same
    way in both modes, so this is the whole comparison)."""
    import dataclasses
    import queue
    from concurrent.futures import ThreadPoolExecutor

    from autograder.engine.batch import make_grader, temp_kit
    from autograder.engine.intake import load_submission
    from autograder.instructor.examples import materialize

    a = registry.get("a2_window")
    tests = load_tests(a.name, include_hidden=True)
    examples = [ex for ex in list_examples(a) if not ex.name.startswith("hostile/")]
    traced = reach.trace_reference(a, tests)
    with temp_kit() as kit:
        grader = make_grader(a, tests, Path(kit), known={n: tr.outputs for n, tr in traced.items()})
        plan = reach.assumed_results(a, examples, tests, traced, grader.expected)
        assert set(plan) == {ex.name for ex in examples}
        assert len(plan["correct"]) == len(tests)           # the reference's own files
        assert sum(map(len, plan.values())) > 10 * len(plan), "the shortcut skipped almost nothing"
        slots: queue.Queue[int] = queue.Queue()
        for k in range(2):
            slots.put(k)

        def graded(ex):
            given = plan[ex.name]
            only = dataclasses.replace(grader, tests=[t for t in tests if t.name in given],
                                       assumed={})
            sub = load_submission(materialize(ex, a, tmp_path / ex.name), a)
            slot = slots.get()
            try:
                return ex.name, only.grade_one(sub, slot), given
            finally:
                slots.put(slot)

        with ThreadPoolExecutor(max_workers=2) as pool:
            for name, res, given in pool.map(graded, examples):
                assert not res.assumed
                have = [(t.name, t.score, t.status, t.kind, t.feedback) for t in res.tests]
                want = [(t.name, t.score, t.status, t.kind, t.feedback) for t in given.values()]
                assert have == want, name


def test_a_dict_edit_reaches_only_the_dict_tests_that_call_it():
    """a1's dict_addk_k_once changes one method: the tests run are those that call it."""
    a = registry.get("a1_ngram")
    tests = [t for t in load_tests(a.name, include_hidden=True) if t.name.startswith("dict.")]
    traced = reach.trace_reference(a, tests)
    ex = next(e for e in list_examples(a) if e.name == "dict_addk_k_once")
    units = reach.example_units(ex, a)
    assert units == {("dict_models.py", "DictAddK.prob")}
    run = reach.tests_reached(units, traced)
    assert run and all("addk" in n or "agree" in n or "kn" in n for n in run), run
    assert "dict.count_bigram" not in run
