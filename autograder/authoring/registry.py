"""The one registry of assignments: every ``autograder/suites/aN_topic/__init__.py`` is one.

A suite's ``__init__.py`` declares, as literals::

    GRADED_FILES = ("rnn_layers.py", ...)   # what a student writes and submits
    TITLE = "A3: recurrent networks in numpy"
    PRELOAD = ("numpy", "torch")            # optional: imported once in the worker, before forking
    PRELOAD_ORACLE = ("torch",)             # optional: preloaded too in the reference's runs
                                            # of oracle tests (never in a submission's worker)
    WARM_WHEN = {"corpus": "shakespeare"}   # optional: when a test has these params, the worker
                                            # calls scenarios.warm() once before forking
    PRELOAD_WHEN = {"torch": ("train_steps",)}  # optional: preloaded too when a test
                                            # of one of these scenarios runs
    LONG_SCENARIOS = ("generate_draws",)    # optional: the scenarios whose tests take longest
                                            # (a seeded sampling test); a check's workers start
                                            # them first, with the WARM_WHEN ones

Everything that needs to know which assignments exist (the CLI, the release, the stubs, the
exports) asks this module. The declarations are read without importing the suite, so the
registry also works on another kit's tree (a release, a test fixture).
"""
from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

from autograder.errors import UsageError

KIT_ROOT = Path(__file__).resolve().parents[2]
NAME = re.compile(r"^a\d+_[a-z0-9_]+$")


class UnknownAssignment(UsageError):
    pass


@dataclass(frozen=True)
class Assignment:
    name: str                      # "a3_rnn": the package name, the same in solutions/ and assignments/
    graded_files: tuple[str, ...]  # the files a student writes and submits, e.g. ("rnn_layers.py",)
    title: str
    preload: tuple[str, ...] = ("numpy",)
    preload_oracle: tuple[str, ...] = ()
    warm_when: tuple = ()          # ((param, value), ...): see WARM_WHEN above
    preload_when: tuple = ()       # ((module, (scenario, ...)), ...): see PRELOAD_WHEN above
    long_scenarios: tuple = ()     # LONG_SCENARIOS
    kit_root: Path = KIT_ROOT
    budget_s: float | None = None  # BUDGET_S: wall-clock seconds for all of a submission's tests

    @property
    def short(self) -> str:
        return self.name.split("_")[0]

    @property
    def solution_dir(self) -> Path:
        return self.kit_root / "solutions" / self.name

    @property
    def stub_dir(self) -> Path:
        return self.kit_root / "assignments" / self.name

    @property
    def suite_dir(self) -> Path:
        return self.kit_root / "autograder" / "suites" / self.name

    def preload_for(self, tests=None, reference: bool = False) -> tuple[str, ...]:
        """What the worker imports once before forking for a run of ``tests``: PRELOAD, plus
        each PRELOAD_WHEN module one of the tests' scenarios needs (a worker that runs none of
        them need not pay for it), plus PRELOAD_ORACLE in the reference's run of oracle tests
        (``reference``: their second implementation is computed there, never in a submission's
        worker)."""
        extra = []
        if reference and (tests is None or any(t.oracle for t in tests)):
            extra += self.preload_oracle
        for module, scenarios in self.preload_when:
            if tests is None or any(t.scenario in scenarios for t in tests):
                extra.append(module)
        return self.preload + tuple(dict.fromkeys(m for m in extra if m not in self.preload))

    def costly_for(self, test) -> tuple[str, ...]:
        """The PRELOAD_WHEN modules ``test`` needs."""
        return tuple(m for m, scenarios in self.preload_when if test.scenario in scenarios)

    def starts_first(self, test) -> bool:
        """Should ``test`` start before the others when several workers share the tests? The
        long ones do (WARM_WHEN, LONG_SCENARIOS): started last, one of them would keep a
        worker busy after the other had finished."""
        return self.warm_for([test]) or test.scenario in self.long_scenarios

    def warm_for(self, tests) -> bool:
        """Does any of ``tests`` take the params WARM_WHEN names (e.g. the real corpus)?"""
        return bool(self.warm_when) and any(
            all(t.params.get(k) == v for k, v in self.warm_when) for t in tests)


def suites_dir(kit_root: Path = KIT_ROOT) -> Path:
    return Path(kit_root) / "autograder" / "suites"


def available(kit_root: Path = KIT_ROOT) -> list[str]:
    """Assignments that have a suite in this kit, in course order (a release may hold fewer)."""
    root = suites_dir(kit_root)
    if not root.is_dir():
        return []
    names = [p.name for p in root.iterdir() if NAME.match(p.name) and (p / "__init__.py").is_file()]
    return sorted(names, key=lambda n: (int(n[1:].split("_")[0]), n))


def suite_meta(name: str, kit_root: Path = KIT_ROOT) -> dict:
    """The literal declarations of ``suites/<name>/__init__.py`` (GRADED_FILES, TITLE, ...)."""
    path = suites_dir(kit_root) / name / "__init__.py"
    meta: dict = {}
    if path.is_file():
        for node in ast.parse(path.read_text(encoding="utf-8"), str(path)).body:
            if isinstance(node, ast.Assign) and len(node.targets) == 1 and \
                    isinstance(node.targets[0], ast.Name):
                try:
                    meta[node.targets[0].id] = ast.literal_eval(node.value)
                except ValueError:
                    pass
    return meta


def get(name: str, kit_root: Path = KIT_ROOT) -> Assignment:
    """Resolve 'a1', 'a1_ngram' or 'A1' to an assignment, or raise with the valid names."""
    key = Path(name.strip().lower().rstrip("/")).name
    have = available(kit_root)
    matches = [n for n in have if n == key or n.split("_")[0] == key]
    if not matches:
        listed = ", ".join(f"{n.split('_')[0]} ({n})" for n in have) or "none"
        raise UnknownAssignment(f"unknown assignment {name!r}; this kit has: {listed}")
    meta = suite_meta(matches[0], kit_root)
    if not meta.get("GRADED_FILES"):
        raise UnknownAssignment(f"{suites_dir(kit_root) / matches[0] / '__init__.py'}: declares no "
                                "GRADED_FILES; add GRADED_FILES = (\"module.py\", ...)")
    return Assignment(name=matches[0], graded_files=tuple(meta["GRADED_FILES"]),
                      title=meta.get("TITLE", matches[0]),
                      preload=tuple(meta.get("PRELOAD", ("numpy",))),
                      preload_oracle=tuple(meta.get("PRELOAD_ORACLE", ())),
                      warm_when=tuple(sorted(meta.get("WARM_WHEN", {}).items())),
                      preload_when=tuple((m, tuple(s)) for m, s in
                                         sorted(meta.get("PRELOAD_WHEN", {}).items())),
                      long_scenarios=tuple(meta.get("LONG_SCENARIOS", ())),
                      kit_root=Path(kit_root),
                      budget_s=_budget(meta, suites_dir(kit_root) / matches[0] / "__init__.py"))


def _budget(meta: dict, path: Path) -> float | None:
    value = meta.get("BUDGET_S")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise UnknownAssignment(f"{path}: BUDGET_S must be a positive number of seconds (the "
                                f"wall-clock budget for all of one submission's tests), not "
                                f"{value!r}")
    return float(value)
