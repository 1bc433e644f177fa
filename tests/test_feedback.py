"""Feedback names the bug, and only the right one.

Every example's manifest says, in ``feedback``, the phrase its grading output must contain: the
cause of its bug in words (or, for the partial and hostile examples, what their feedback says).
Here every example is graded on the tests it fails (tests/harness.py: in the full suite, read
from verify's sandboxed grading that tests/test_verify.py makes in the same process, public and
hidden tests; in the fast tier, in-process on the public tests), and every
hint of each suite is checked both ways over every example of its assignment: it fires on the
examples whose bug it names (their ``feedback`` phrase is part of what it says) and stays
silent on all the others.
"""
from __future__ import annotations

import functools
import importlib
import tempfile
from pathlib import Path

import pytest

from autograder.authoring import judges as J
from autograder.authoring import registry
from autograder.instructor.examples import list_examples
from harness import failing_feedback, hint_lines

ASSIGNMENTS = ["a1_ngram", "a2_window", "a3_rnn", "a4_torch"]
MIN_EXAMPLES = 12


@functools.lru_cache(maxsize=None)
def graded(name: str):
    tmp = Path(tempfile.mkdtemp(prefix=f"lmkit-feedback-{name}-"))
    return failing_feedback(registry.get(name), tmp)


def _manifests(name):
    return {e.name: e.manifest for e in list_examples(registry.get(name))}


def _hints(name):
    for kind in ("public", "hidden"):
        importlib.import_module(f"autograder.suites.{name}.{kind}")
    return sorted(J.suite_hints(name))


CASES = [(a, e) for a in ASSIGNMENTS for e in sorted(_manifests(a)) if not e.startswith("hostile/")]
HINT_CASES = [(a, h) for a in ASSIGNMENTS for h in _hints(a)]


def test_every_manifest_has_a_feedback_phrase():
    missing = [f"{a}/{e}" for a in ASSIGNMENTS for e, m in _manifests(a).items()
               if not isinstance(m.get("feedback"), str) or not m["feedback"].strip()]
    assert not missing, f"add a \"feedback\" phrase to these manifests: {missing}"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_enough_examples(assignment):
    names = [e for e in _manifests(assignment) if not e.startswith("hostile/")]
    assert len(names) >= MIN_EXAMPLES, f"{assignment} has {len(names)} examples: {sorted(names)}"


@pytest.mark.parametrize("assignment,example", CASES, ids=[f"{a}/{e}" for a, e in CASES])
def test_feedback_names_the_bug(assignment, example):
    phrase = _manifests(assignment)[example]["feedback"]
    results = graded(assignment)[example]
    if example == "correct":
        assert not results, f"the reference edits of 'correct' fail {sorted(results)}"
        return
    text = "\n".join(r.feedback for r in results.values())
    assert phrase in text, (f"{example}: no failing test's feedback contains {phrase!r}:\n"
                            + text[:1500])


@pytest.mark.parametrize("assignment,hint", HINT_CASES,
                         ids=[f"{a}:{h[:50]}" for a, h in HINT_CASES])
def test_hint_fires_exactly_on_its_bug(assignment, hint):
    manifests = _manifests(assignment)
    fired_on, misses = [], []
    for example, results in graded(assignment).items():
        phrase = manifests[example]["feedback"]
        fired = hint in hint_lines(results)
        mine = example != "correct" and phrase in hint   # the reference has no bug
        if fired and not mine:
            fired_on.append(example)
        if mine and not fired:
            misses.append(example)
    assert not fired_on, f"the hint fires on {fired_on}, which lack its bug: {hint!r}"
    assert not misses, f"the hint stays silent on {misses}, which have its bug: {hint!r}"


@pytest.mark.parametrize("assignment,example", CASES, ids=[f"{a}/{e}" for a, e in CASES])
def test_no_hint_blames_the_wrong_thing(assignment, example):
    """Hints written inline by judges (not J.Hint objects) are held to the same rule."""
    phrase = _manifests(assignment)[example]["feedback"]
    wrong = [h for h in hint_lines(graded(assignment)[example]) if phrase not in h]
    assert not wrong, f"{example} ({phrase!r}) gets hints about other bugs: {wrong}"
