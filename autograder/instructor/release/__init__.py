"""The student release: ``build.py`` writes it, ``leakcheck.py`` refuses one that leaks.
``student_readme.md`` is the template of the release's README."""
from autograder.errors import KitError


class ReleaseError(KitError):
    """The release cannot be written (stale stubs, unknown assignment, unsafe out_dir)."""

    exit_code = 2
