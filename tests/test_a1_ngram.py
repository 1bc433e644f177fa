"""Assignment 1 (n-gram models): the reference, its suites, its examples and its notebook.

The suite harness runs scenarios in this process (the reference and an example loaded side by
side under different package names) and judges them with the suite's judges, so the
examples' manifests are checked without the sandboxed engine; ``python -m autograder verify
a1`` checks the same manifests through the real worker.
"""
from __future__ import annotations

import copy
import importlib
import importlib.util
import json
import math
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest

from autograder import assignments as asg
from autograder.examples import list_examples, materialize
from autograder.outputs import read_outputs, write_outputs
from autograder.suite import load_tests
from lmcore.vocab import Vocab

ROOT = Path(__file__).resolve().parents[1]
SOLUTION = ROOT / "solutions" / "a1_ngram"
A1 = asg.get("a1_ngram")


# -- in-process harness -------------------------------------------------------------------------
class _Sub:
    """``sub.models`` imports the graded module lazily, as the engine's worker does."""

    def __init__(self, package: str):
        self._package = package

    def __getattr__(self, name):
        return importlib.import_module(f"{self._package}.{name}")


def load_package(folder: Path, alias: str) -> _Sub:
    """Import ``folder`` (a copy of a1_ngram) as the package ``alias``."""
    if alias not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            alias, folder / "__init__.py", submodule_search_locations=[str(folder)])
        module = importlib.util.module_from_spec(spec)
        sys.modules[alias] = module
        spec.loader.exec_module(module)
    return _Sub(alias)


def _plain(value, tmp: Path):
    """Round-trip through the engine's output files, so the judges see what they would."""
    folder = Path(tempfile.mkdtemp(dir=tmp))
    write_outputs(value, folder)
    return read_outputs(folder)


_expected_cache: dict[str, object] = {}


def run_test(test, reference: _Sub, sub: _Sub, tmp: Path):
    from autograder.suites.a1_ngram import scenarios

    def outputs(package):
        fn = getattr(scenarios, test.scenario)
        with np.errstate(all="ignore"):
            return _plain(fn(package, np.random.default_rng(test.seed), **test.params), tmp)

    expected = None
    if test.needs_reference:
        if test.name not in _expected_cache:
            _expected_cache[test.name] = outputs(reference)
        expected = _expected_cache[test.name]
    try:
        actual = outputs(sub)
    except Exception as err:  # a crash costs the test, as in the worker
        return 0.0, f"{type(err).__name__}: {err}"
    verdict = test.judge(expected, actual)
    return verdict.score * test.points, verdict.feedback()


def grade_folder(folder: Path, alias: str, tmp: Path, tests=None) -> dict:
    reference = load_package(SOLUTION, "a1_ngram_reference")
    sub = load_package(folder, alias)
    return {t.name: run_test(t, reference, sub, tmp) for t in (tests or load_tests(A1.name))}


def _example_folder(example, tmp: Path) -> Path:
    dest = tmp / f"ex_{example.name}"
    materialize(example, A1, dest)
    for name in ("__init__.py", "base.py"):   # the kit's non-graded files
        (dest / name).write_text((SOLUTION / name).read_text())
    return dest


# -- the suite's shape --------------------------------------------------------------------------
def test_suite_declares_every_part_public_and_hidden():
    tests = load_tests(A1.name)
    public = {t.part for t in tests if t.visibility == "public"}
    hidden = {t.part for t in tests if t.visibility == "hidden"}
    assert public == hidden, f"parts without both kinds: {public ^ hidden}"
    from autograder.suites.a1_ngram import scenarios
    for t in tests:
        assert callable(getattr(scenarios, t.scenario)), t.name
        json.dumps(t.params)


def test_graded_files_have_solution_blocks():
    for name in A1.graded_files:
        text = (SOLUTION / name).read_text()
        assert "### BEGIN SOLUTION" in text and "### END SOLUTION" in text, name
    assert "### BEGIN SOLUTION" not in (SOLUTION / "base.py").read_text()


# -- examples: each loses exactly the points its manifest says ---------------------------------
EXAMPLES = list_examples(A1)


@pytest.mark.parametrize("example", EXAMPLES, ids=[e.name for e in EXAMPLES])
def test_example_scores_match_manifest(example, tmp_path):
    folder = _example_folder(example, tmp_path)
    scores = grade_folder(folder, f"a1_ngram_ex_{example.name}", tmp_path)
    tests = {t.name: t for t in load_tests(A1.name)}
    wrong = {name: (round(got, 6), example.expected_score(name, tests[name].points), fb)
             for name, (got, fb) in scores.items()
             if abs(got - example.expected_score(name, tests[name].points)) > 1e-9}
    assert not wrong, f"{example.name}: tests scored other than the manifest says: {wrong}"


HINTS = {  # example -> (a test it fails, a phrase its feedback must contain)
    "addk_no_v": ("addk.laplace", "k*|V|"),
    "bos_in_v": ("addk.laplace", "|V| + 1"),
    "kn_raw_counts": ("kn.continuation", "continuation counts"),
    "backoff_unnormalized": ("backoff.sums", "alpha(h) = "),
    "interp_unnormalized": ("interp.fit", "do not sum to one"),
    "ppl_log2": ("perplexity.hand", "logarithm bases"),
    "ppl_no_eos": ("perplexity.hand", "without the </s>"),
    "one_bos": ("pad.trigram", "n-1 <s>"),
}


@pytest.mark.parametrize("name", sorted(HINTS))
def test_bug_hints_name_the_bug(name, tmp_path):
    by_name = {e.name: e for e in EXAMPLES}
    tests = {t.name: t for t in load_tests(A1.name)}
    test_name, phrase = HINTS[name]
    folder = _example_folder(by_name[name], tmp_path)
    scores = grade_folder(folder, f"a1_ngram_hint_{name}", tmp_path, [tests[test_name]])
    score, feedback = scores[test_name]
    assert score < tests[test_name].points and phrase in feedback, (name, feedback)
