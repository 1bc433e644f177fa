"""Tests are written once: a *scenario* that runs in the worker and a *judge* that runs here.

A scenario is a function in ``suites/<assignment>/scenarios.py``::

    def rnn_step(sub, rng, N=3, H=5):
        '''sub: the submission's package (sub.rnn_layers is the student's module);
        rng: a seeded numpy.random.Generator. Returns plain data.'''
        ...
        return {"next_h": next_h, "dWx": dWx}

It is called the same way with the reference package (to compute expected outputs) and with
the student's. It returns plain data only: numbers, strings, lists, dicts with str keys and
numpy arrays (torch tensors are converted). Outputs cross from the worker as files
(``engine/wire.py``) and are judged in the parent by the test's judge (``judges.py``).

A test names its scenario by function name and gives it JSON-able keyword ``params``, so a
hidden test is the same scenario on other inputs. The hidden suite file never enters the
sandbox: the parent sends each test's scenario name, params and seed only when it runs.

An ``oracle`` test compares the student with a second implementation (torch autograd) on the
same seeded inputs: its scenario takes ``oracle=False`` and adds the second implementation's
values under "torch" only when the trusted side runs it (``for_reference``); those values are
the test's expected outputs, so a submission's worker never computes them (nor imports torch
for them, nor can forge them).
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass, field, replace
from typing import Any, Callable

from autograder.errors import KitError

VISIBILITIES = ("public", "hidden")


@dataclass(frozen=True)
class Test:
    name: str            # unique in the assignment, "part.case", e.g. "rnn_step.forward"
    part: str            # the graded function or part, shown in reports, e.g. "rnn_step_forward"
    points: float
    scenario: str        # function name in the suite's scenarios.py
    judge: Callable[[Any, Any], Any]   # (expected, actual) -> judges.Verdict
    visibility: str = "public"
    params: dict = field(default_factory=dict)
    seed: int = 0
    timeout: float = 30.0  # wall-clock seconds for this test in the worker
    description: str = ""  # one line for the student: what is being checked
    needs_reference: bool = True  # False for self-checks whose judge ignores `expected`
    oracle: bool = False   # the reference's run passes oracle=True (see the module docstring)

    def __post_init__(self):
        if self.oracle and not self.needs_reference:
            raise ValueError(f"test {self.name}: an oracle test is judged against the values "
                             "its reference run computes; drop needs_reference=False")
        if self.visibility not in VISIBILITIES:
            raise ValueError(f"test {self.name}: visibility must be one of {VISIBILITIES}")
        if self.points < 0:
            raise ValueError(f"test {self.name}: points must be >= 0")

    def spec(self) -> dict:
        """What the worker receives for this test: no judge, no expected output, no points."""
        return {"name": self.name, "scenario": self.scenario, "params": self.params,
                "seed": self.seed, "timeout": self.timeout}

    def for_reference(self) -> "Test":
        """The test as the reference runs it to make its expected outputs: an oracle test
        with ``oracle=True``, every other test as it is."""
        return replace(self, params={**self.params, "oracle": True}) if self.oracle else self


def public(name: str, **kw) -> Test:
    return Test(name=name, visibility="public", **kw)


def hidden(name: str, **kw) -> Test:
    return Test(name=name, visibility="hidden", **kw)


class SuiteError(KitError):
    pass


def load_tests(assignment: str, include_hidden: bool = True) -> list[Test]:
    """The tests of an assignment: ``public.py``'s, then ``hidden.py``'s when asked for and
    present (a student release has no hidden.py)."""
    tests: list[Test] = []
    kinds = ("public", "hidden") if include_hidden else ("public",)
    for kind in kinds:
        try:
            module = importlib.import_module(f"autograder.suites.{assignment}.{kind}")
        except ModuleNotFoundError as err:
            if kind == "hidden" and err.name == f"autograder.suites.{assignment}.hidden":
                continue
            raise
        for t in module.TESTS:
            if t.visibility != kind:
                raise SuiteError(f"{module.__file__}: test {t.name} is {t.visibility} "
                                 f"but is declared in {kind}.py")
            tests.append(t)
    names = [t.name for t in tests]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise SuiteError(f"{assignment}: duplicate test names {dupes}")
    return tests
