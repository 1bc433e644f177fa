"""The leak check that stands between a release and the students.

A leak is solution code (any non-trivial line of a solution block, of a notebook's solution
cell or region), anything of the hidden suites (a ``hidden.py``, a hidden test's name or
inputs), a reference-output cache, a solution marker, an instructor folder, or a notebook
that still has outputs. The fingerprints are learnt from the kit itself, less every line the
generated stubs legitimately show.
"""
from __future__ import annotations

import hashlib
import importlib
import json
import re
import sys
import types
from dataclasses import dataclass, field
from pathlib import Path

from autograder.instructor import stubs
from autograder.instructor.release import ReleaseError

# Folders of the kit that hold instructor material; finding one in a release is a leak.
INSTRUCTOR_FOLDERS = ("solutions", "examples", "tests", "benchmarks", ".git")
CACHE_FOLDERS = (".cache",)

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
    own = Path(__file__).resolve().parents[3]
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
    return scan(Path(release_dir).resolve(), fingerprints(kit_root))


def scan(release_dir: Path, fp: Fingerprints) -> list[Leak]:
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
