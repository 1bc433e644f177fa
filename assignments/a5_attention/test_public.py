"""The public tests of this assignment: run them with `pytest` on this folder, or with
`python -m autograder check <assignment>` for a table of points and feedback."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the kit root: lmcore/, autograder/

from autograder.student.pytest_plugin import public_tests  # noqa: E402

test_public = public_tests(__file__)
