"""Where each assignment lives: its name, its graded files, its folders."""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path

KIT_ROOT = Path(__file__).resolve().parent.parent
NAMES = ("a1_ngram", "a2_window", "a3_rnn", "a4_torch", "a5_attention")


class UnknownAssignment(ValueError):
    pass


@dataclass(frozen=True)
class Assignment:
    name: str                    # "a3_rnn": the package name, the same in solutions/ and assignments/
    graded_files: tuple[str, ...]  # the files a student writes and submits, e.g. ("rnn_layers.py",)
    title: str

    @property
    def short(self) -> str:
        return self.name.split("_")[0]

    @property
    def solution_dir(self) -> Path:
        return KIT_ROOT / "solutions" / self.name

    @property
    def stub_dir(self) -> Path:
        return KIT_ROOT / "assignments" / self.name

    @property
    def suite_dir(self) -> Path:
        return KIT_ROOT / "autograder" / "suites" / self.name


def available() -> list[str]:
    """Assignments that have a suite in this kit (a student release may hold fewer)."""
    return [n for n in NAMES if (KIT_ROOT / "autograder" / "suites" / n / "__init__.py").exists()]


def get(name: str) -> Assignment:
    """Resolve 'a1', 'a1_ngram' or 'A1' to an assignment, or raise with the valid names."""
    key = name.strip().lower().rstrip("/")
    key = Path(key).name
    matches = [n for n in available() if n == key or n.split("_")[0] == key]
    if not matches:
        have = ", ".join(f"{n.split('_')[0]} ({n})" for n in available()) or "none"
        raise UnknownAssignment(f"unknown assignment {name!r}; this kit has: {have}")
    module = importlib.import_module(f"autograder.suites.{matches[0]}")
    return Assignment(name=matches[0], graded_files=tuple(module.GRADED_FILES),
                      title=getattr(module, "TITLE", matches[0]))
