"""How the kit's tests share the machine's cores (pytest-xdist: ``kit.py test`` runs one test
process more than the machine has cores, ``-n 3`` on 2 cores).

Tests that share work stay in one worker process: one group per file (module-scoped fixtures,
per-process caches). Two files are grouped by assignment instead, one group for both:
test_verify grades an assignment's examples in one sandboxed batch (harness.verified), and
test_feedback reads the examples' feedback from that same batch. The groups are sent
heaviest first, from the durations measured on this machine, so that the last group to start
is a short one and neither core waits long for the other at the end. Without xdist (plain
``pytest``, or ``-n 0``) nothing here changes what runs or in which order.
"""
from __future__ import annotations

import re

import pytest

import autograder.instructor  # noqa: F401 - before any test imports nbformat (its docstring)

# Groups that take longest, heaviest first (measured); every other group follows in the order
# of collection.
HEAVY = [
    "verify::a1_ngram",     # the real-split tests, 16 submissions
    "verify::a4_torch",     # torch and torch._dynamo imported by each of 14 workers
    "test_hostile.py",      # mostly waiting: hangs, timeouts, an own budget of 40 s
    "test_cluster.py",
    "verify::a5_attention",
    "test_export_otter.py",
    "test_a4_torch.py",     # its notebook at the smallest budget
    "test_a5_attention.py",
    "test_export_nbgrader.py",
    "verify::a3_rnn",
    "test_a2_window.py",
    "test_a3_rnn.py",
    "test_faults.py",
    "test_engine.py",
    "test_a1_ngram.py",
    "verify::a2_window",
    "test_reach.py",                # a2's examples on the tests the shortcut skips
    "test_sandbox_layers.py",
    "test_worker.py",
    "test_export_gradescope.py",
    "test_release.py",
]
# files whose tests are grouped by the assignment their parameters start with, one group
# ("verify::<assignment>") for both files
SPLIT = ("test_verify.py", "test_feedback.py")
_ASSIGNMENT = re.compile(r"\[(a\d+_[a-z0-9_]+)")


def group_of(nodeid: str) -> str:
    """The group of a test id: its file, or verify::assignment for the files in SPLIT."""
    path, _, rest = nodeid.partition("::")
    file = path.rsplit("/", 1)[-1]
    if file in SPLIT:
        m = _ASSIGNMENT.search(rest)
        if m:
            return f"verify::{m.group(1)}"
    return file


def _rank(nodeid: str, order: dict[str, int]) -> tuple[int, int]:
    g = group_of(nodeid)
    return HEAVY.index(g) if g in HEAVY else len(HEAVY), order[g]


def _distributed(config: pytest.Config) -> bool:
    """An xdist worker (xdist sets its own ``dist`` option to "no"), or its controller."""
    return hasattr(config, "workerinput") or getattr(config.option, "dist", "no") != "no"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under xdist: each group's tests together, the heaviest groups first (stable)."""
    if not _distributed(config):
        return
    order: dict[str, int] = {}
    for item in items:
        order.setdefault(group_of(item.nodeid), len(order))
    items.sort(key=lambda it: _rank(it.nodeid, order))


class _Groups:
    """The xdist hook, registered only where xdist is (``-p no:xdist`` must still work)."""

    @staticmethod
    def pytest_xdist_make_scheduler(config, log):
        """xdist's load-by-scope scheduling with the groups above as scopes, sent in the
        order of collection (the sort above), not reordered by their number of tests."""
        from xdist.scheduler import LoadScopeScheduling

        class GroupScheduling(LoadScopeScheduling):
            def _split_scope(self, nodeid: str) -> str:
                return group_of(nodeid)

        config.option.loadscopereorder = False
        return GroupScheduling(config, log)


def pytest_collection_finish(session: pytest.Session) -> None:
    """Tell the harness which assignments' ``verify`` this process's session runs (the
    selected tests, after ``-m``/``-k``): test_feedback then reads their examples' feedback
    from that one grading (both files' tests of an assignment are one group, below)."""
    import harness

    harness.VERIFIED_HERE.clear()
    harness.VERIFIED_HERE.update(
        item.callspec.params["name"] for item in session.items
        if item.path.name == "test_verify.py" and getattr(item, "originalname", "") == "test_verify")


def pytest_configure(config: pytest.Config) -> None:
    if config.pluginmanager.hasplugin("xdist"):
        config.pluginmanager.register(_Groups(), "lmkit-test-groups")
