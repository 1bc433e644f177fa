"""The suite-author API: what a file under ``autograder/suites/<assignment>/`` imports.

    declare.py    ``public(...)`` / ``hidden(...)`` test declarations and ``load_tests``
    judges.py     judges (``close``, ``fields``, ``exact`` ...), ``Verdict``, ``Hint`` and
                  ``with_hints`` for judges of your own
    registry.py   the one registry of assignments, read from ``suites/<a>/__init__.py``
    fixtures.py   inputs that several suites share (tiny corpora, clipping cases, the
                  inputs-unchanged check)

See ``autograder/suites/README.md`` for the suite contract.
"""
from autograder.authoring.declare import Test, hidden, load_tests, public  # noqa: F401
