"""``pytest assignments/aN_topic`` runs the same public tests as ``python -m autograder check aN``.

The assignment's ``test_public.py`` calls ``public_tests(__file__)``: the whole public suite
runs once per session through the same sandboxed worker as ``check`` (so a crash or an
infinite loop in your code costs one test, not the pytest run), and each test becomes one
pytest item that passes, or fails with the grader's feedback.
"""
from __future__ import annotations

import functools
from pathlib import Path


@functools.lru_cache(maxsize=None)
def _grade(package_dir: str):
    from autograder.authoring import registry as asg
    from autograder.engine.batch import make_grader, temp_kit
    from autograder.engine.intake import load_submission
    from autograder.authoring.declare import load_tests

    a = asg.get(Path(package_dir).name)
    tests = load_tests(a.name, include_hidden=False)
    with temp_kit() as kit:
        grader = make_grader(a, tests, Path(kit))
        res = grader.grade_one(load_submission(Path(package_dir), a))
    return {t.name: t for t in res.tests}, res


def public_tests(test_file: str):
    """Return a parametrized pytest function over the assignment's public tests."""
    import pytest

    from autograder.authoring import registry as asg
    from autograder.authoring.declare import load_tests

    package_dir = str(Path(test_file).resolve().parent)
    a = asg.get(Path(package_dir).name)
    names = [t.name for t in load_tests(a.name, include_hidden=False)]

    @pytest.mark.parametrize("name", names)
    def test_public(name):
        results, res = _grade(package_dir)
        if res.fatal:
            pytest.fail(res.fatal, pytrace=False)
        r = results[name]
        if r.passed:
            return
        head = "not implemented yet" if r.kind == "not-implemented" else f"{r.score:g}/{r.max_score:g} points"
        pytest.fail(f"{name} ({head})\n{r.feedback}", pytrace=False)

    return test_public
