"""The one error base class of the kit.

Every failure whose message already names the file and the fix (an unknown assignment, a
stale stub, a release that would leak, a sandbox that cannot start) is a ``KitError``. The
command line prints such an error in one line and exits 3 (2 for usage errors); anything else
is a bug in the kit and keeps its traceback.
"""
from __future__ import annotations


class KitError(RuntimeError):
    """A failure the user can fix; ``str(err)`` says what, where and how."""

    exit_code = 3


class UsageError(KitError, ValueError):
    """Bad input on the command line (an unknown assignment, a missing path)."""

    exit_code = 2
