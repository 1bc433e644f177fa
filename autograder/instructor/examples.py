"""Known submissions (examples/<assignment>/<name>/manifest.json) and the scores they must get.

An example is written as edits to the reference (or the stubs) so that it stays a one-line
bug however the reference evolves; ``materialize`` fails loudly when an edit no longer
applies. See suites/README.md for the manifest format.
"""
from __future__ import annotations

import fnmatch
import json
from dataclasses import dataclass
from pathlib import Path

from autograder.errors import KitError
from autograder.authoring.registry import KIT_ROOT, Assignment

EXAMPLES = KIT_ROOT / "examples"
LAYER_NAMES = ("process", "rlimits", "bwrap", "uid", "cgroup")  # sandbox.short_names


class ExampleError(KitError, ValueError):
    pass


@dataclass
class Example:
    name: str
    folder: Path
    manifest: dict

    @property
    def submission_id(self) -> str:
        """Its folder name in a batch (and so its id there): "hostile/x" becomes "hostile__x"."""
        return self.name.replace("/", "__")

    @property
    def description(self) -> str:
        return self.manifest.get("description", "")

    @property
    def stopped_by(self) -> list[str]:
        """The layers the attack needs to be contained (each item: a layer or "a|b")."""
        value = self.manifest.get("stopped_by", ["process"])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ExampleError(f"{self.folder}/manifest.json: stopped_by must be a list of "
                               f"layer names, e.g. [\"bwrap\"] or [\"bwrap|uid\"]")
        unknown = {p for v in value for p in v.split("|")} - set(LAYER_NAMES)
        if unknown:
            raise ExampleError(f"{self.folder}/manifest.json: stopped_by names unknown layer(s) "
                               f"{sorted(unknown)}; use {', '.join(LAYER_NAMES)}")
        return value

    def needs(self, active: set[str]) -> list[str]:
        """The items of ``stopped_by`` that the ``active`` layers do not satisfy (empty: the
        attack is contained here, and its scores must be exactly the manifest's)."""
        return [v for v in self.stopped_by if not set(v.split("|")) & active]

    @property
    def budget_s(self) -> float | None:
        value = self.manifest.get("budget_s")
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))
                                  or value <= 0):
            raise ExampleError(f"{self.folder}/manifest.json: budget_s must be a positive number "
                               "of seconds")
        return None if value is None else float(value)

    def expected_score(self, test_name: str, points: float) -> float:
        exp = self.manifest.get("expect", {})
        for pattern, value in exp.get("tests", {}).items():
            if fnmatch.fnmatchcase(test_name, pattern):
                return float(value)
        default = exp.get("default", "full")
        if default == "full":
            return float(points)
        if default == "zero":
            return 0.0
        raise ExampleError(f"{self.folder}/manifest.json: expect.default must be 'full' or 'zero'")


def describe_needs(needs: list[str]) -> str:
    """["bwrap", "uid|cgroup"] -> "bwrap and uid or cgroup"."""
    return " and ".join(n.replace("|", " or ") for n in needs)


def list_examples(assignment: Assignment) -> list[Example]:
    folder = EXAMPLES / assignment.name
    found = []
    manifests = sorted(folder.glob("*/manifest.json"))
    for m in sorted((EXAMPLES / "hostile").glob("*/manifest.json")):
        try:
            if json.loads(m.read_text()).get("assignment") == assignment.name:
                manifests.append(m)
        except ValueError:
            manifests.append(m)
    for m in manifests:
        try:
            manifest = json.loads(m.read_text())
        except ValueError as err:
            raise ExampleError(f"{m}: not valid JSON ({err})") from None
        prefix = "hostile/" if m.parent.parent.name == "hostile" else ""
        found.append(Example(prefix + m.parent.name, m.parent, manifest))
    return found


def materialize(ex: Example, assignment: Assignment, dest: Path) -> Path:
    """Write the example's graded files into ``dest`` (a submission folder)."""
    dest.mkdir(parents=True, exist_ok=True)
    base = ex.manifest.get("base", "solution")
    src = {"solution": assignment.solution_dir, "stubs": assignment.stub_dir}.get(base)
    if base not in ("solution", "stubs", "none"):
        raise ExampleError(f"{ex.folder}/manifest.json: base must be solution, stubs or none")
    files: dict[str, str] = {}
    if src is not None:
        for name in assignment.graded_files:
            files[name] = (src / name).read_text()
    for name, rel in ex.manifest.get("files", {}).items():
        files[name] = (ex.folder / rel).read_text()
    for i, edit in enumerate(ex.manifest.get("edits", [])):
        name, old, new = edit["file"], edit["old"], edit["new"]
        text = files.get(name)
        count = text.count(old) if text is not None else 0
        if count != 1:
            raise ExampleError(f"{ex.folder}/manifest.json: edit {i} expects {old!r} exactly once "
                               f"in {name}, found it {count} times; update the edit to match "
                               f"solutions/{assignment.name}/{name}")
        files[name] = text.replace(old, new)
    for name, text in files.items():
        (dest / name).write_text(text)
    extra = ex.manifest.get("archive")
    if extra:  # hostile archives are shipped as files, graded as they are
        return ex.folder / extra
    return dest
