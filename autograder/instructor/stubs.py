"""Single source for stubs: write assignments/ from solutions/.

A graded part in ``solutions/aN_topic/*.py`` is a block inside a function body::

    def affine_forward(x, w, b):
        \"\"\"...docstring with every shape...\"\"\"
        ### BEGIN SOLUTION
        # HINT: one matrix product and a broadcast add.
        out = x @ w + b
        ### END SOLUTION
        return out, cache

``make_stub_source`` replaces each block, at its indentation, by its hint lines and a
``raise NotImplementedError`` that names the function; every other line stays byte-identical.
Notebooks go through nbgrader's own preprocessors (``clear_notebook``), not a second stripper.
``generate_assignments`` writes ``assignments/`` from ``solutions/``, or with ``check=True``
only reports what differs, which is how the kit's tests keep the two trees from drifting.
"""
from __future__ import annotations

import ast
import copy
import hashlib
import io
import json
import logging
import re
import shutil
import tokenize
import warnings
from dataclasses import dataclass
from pathlib import Path

from autograder.errors import KitError

# nbgrader's markers, as comments on a line of their own
MARKER = re.compile(r"#+\s*(BEGIN|END)\s+SOLUTION\b")
HINT = re.compile(r"#\s*HINT\s*:\s?(.*)$", re.IGNORECASE)
# a solution line that the kit shows students elsewhere on purpose (lmcore, a docstring's
# example) carries this comment, and the release's leak check does not look for it
PUBLIC = re.compile(r"leak-check:\s*public", re.IGNORECASE)

# never copied to, and never deleted from, assignments/ (build and editor residue)
IGNORED_NAMES = {"__pycache__", ".ipynb_checkpoints", ".pytest_cache", ".DS_Store", ".cache"}
IGNORED_SUFFIXES = (".pyc", ".pyo")


class StubError(KitError, ValueError):
    """A solution file that cannot be turned into a stub; the message starts with file:line."""


@dataclass(frozen=True)
class Block:
    """One ``### BEGIN SOLUTION`` ... ``### END SOLUTION`` block of a solution file."""
    begin: int            # 1-based line of the BEGIN marker
    end: int              # 1-based line of the END marker
    indent: str           # the BEGIN marker's leading whitespace
    owner: str            # "Class.method", "function" or "<module>"
    hints: tuple[str, ...]    # the text after "# HINT:", in order
    code: tuple[tuple[int, str], ...]  # (line, code without comments) for every code line inside
    public: tuple[int, ...] = ()   # lines marked "# leak-check: public" (shown elsewhere on purpose)


# -- .py files ---------------------------------------------------------------------------------
def find_blocks(text: str, path: str | Path = "<string>") -> list[Block]:
    """The solution blocks of a Python source, checked for balance and nesting.

    Markers are found with ``tokenize``, so a docstring that mentions them is not a marker.
    Raises StubError naming ``path:line`` for a marker that is not alone on its line, a
    nested BEGIN, an END without BEGIN, a BEGIN never closed, an END indented differently from
    its BEGIN, or a block that starts and ends in different functions.
    """
    lines = _lines(text)
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(text).readline))
        tree = ast.parse(text, filename=str(path))
    except (SyntaxError, tokenize.TokenError) as err:
        line = getattr(err, "lineno", None) or (err.args[1][0] if len(err.args) > 1 else "?")
        raise StubError(f"{path}:{line}: not valid Python, cannot find solution blocks: {err}")

    comments: dict[int, tuple[int, str]] = {}   # line -> (column, comment text)
    for tok in tokens:
        if tok.type == tokenize.COMMENT:
            comments[tok.start[0]] = (tok.start[1], tok.string)

    owners = _function_spans(tree)
    blocks: list[Block] = []
    open_at: int | None = None
    for lineno in sorted(comments):
        col, comment = comments[lineno]
        match = MARKER.match(comment)
        if not match:
            continue
        if lines[lineno - 1][:col].strip():
            raise StubError(f"{path}:{lineno}: {comment.strip()!r} must be on a line of its own "
                            f"(nbgrader would drop the whole line, code included)")
        if match.group(1) == "BEGIN":
            if open_at is not None:
                raise StubError(f"{path}:{lineno}: nested BEGIN SOLUTION; the block opened at "
                                f"line {open_at} is not closed yet")
            open_at = lineno
            continue
        if open_at is None:
            raise StubError(f"{path}:{lineno}: END SOLUTION without a BEGIN SOLUTION before it")
        indent = _indent(lines[open_at - 1])
        if _indent(lines[lineno - 1]) != indent:
            raise StubError(f"{path}:{lineno}: END SOLUTION is indented differently from its "
                            f"BEGIN SOLUTION at line {open_at}")
        owner, owner_end = _owner(owners, open_at)
        code = _code_lines(lines, comments, open_at, lineno)
        last_code = code[-1][0] if code else open_at
        # ast spans end at the last statement, so the END comment may follow them
        if owner != "<module>" and last_code > owner_end:
            raise StubError(f"{path}:{open_at}: the block opened here runs to line {lineno}, "
                            f"past the end of {owner} (line {owner_end}); a block must stay "
                            f"inside one function")
        for start, end, name in owners:
            if open_at < start <= lineno < end:
                raise StubError(f"{path}:{open_at}: the block opened here ends at line "
                                f"{lineno}, inside {name} which starts at line {start}; a "
                                f"block must stay inside one function")
        blocks.append(Block(begin=open_at, end=lineno, indent=indent, owner=owner,
                            hints=_hints(comments, open_at, lineno), code=code,
                            public=tuple(n for n in range(open_at + 1, lineno)
                                         if n in comments and PUBLIC.search(comments[n][1]))))
        open_at = None
    if open_at is not None:
        raise StubError(f"{path}:{open_at}: BEGIN SOLUTION is never closed by an END SOLUTION")
    return blocks


def make_stub_source(text: str, path: str | Path = "<string>") -> str:
    """The student version of a solution module.

    Each solution block becomes, at the block's indentation, its ``# HINT:`` lines (rendered
    ``# Hint: ...``) followed by ``raise NotImplementedError("<owner>: write this part")``,
    where owner is the enclosing function (``Class.method`` for a method, ``<module>`` at
    module level: such a block makes the module raise on import until it is written). Every
    line outside the blocks is kept byte-identical; a source with no blocks comes back as it
    is, so stubbing a stub changes nothing. Raises StubError (file:line) on bad markers or if
    the stub does not compile.
    """
    blocks = find_blocks(text, path)
    if not blocks:
        return text
    lines = _lines(text)
    tree = ast.parse(text, filename=str(path))
    per_owner: dict[str, int] = {}
    for b in blocks:
        per_owner[b.owner] = per_owner.get(b.owner, 0) + 1
    seen: dict[str, int] = {}
    out: list[str] = []
    cursor = 0
    for b in blocks:
        out.extend(lines[cursor:b.begin - 1])
        eol = _eol(lines[b.begin - 1])
        outputs = _outputs_to_initialise(tree, lines, b)
        if outputs:   # cs231n's stubs: the return below is of names that exist
            out.append(f"{b.indent}{', '.join(outputs)} = {', '.join(['None'] * len(outputs))}{eol}")
        for hint in b.hints:
            out.append(f"{b.indent}# Hint: {hint}".rstrip() + eol)
        seen[b.owner] = seen.get(b.owner, 0) + 1
        part = f" (part {seen[b.owner]} of {per_owner[b.owner]})" if per_owner[b.owner] > 1 else ""
        out.append(f'{b.indent}raise NotImplementedError("{b.owner}: write this part{part}")' + eol)
        cursor = b.end
    out.extend(lines[cursor:])
    stub = "".join(out)
    try:
        compile(stub, str(path), "exec", dont_inherit=True)
    except SyntaxError as err:
        raise StubError(f"{path}:{err.lineno}: the generated stub does not compile ({err.msg}); "
                        f"check the indentation of the solution block around this line")
    return stub


def _outputs_to_initialise(tree: ast.AST, lines: list[str], b: Block) -> list[str]:
    """The names the statement right after the block returns (``return dx, dw, db``) that the
    block itself assigns and nothing before it defines: the stub sets them to None, so that the
    code a student writes fills them in and the return never names an undefined variable."""
    nxt = b.end
    while nxt < len(lines) and not lines[nxt].strip():
        nxt += 1
    if nxt >= len(lines) or _indent(lines[nxt]) != b.indent or \
            not lines[nxt].strip().startswith("return "):
        return []
    func = None
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and \
                node.lineno < b.begin and (node.end_lineno or 0) >= b.end:
            if func is None or node.lineno > func.lineno:
                func = node
    if func is None:
        return []
    ret = next((n for n in ast.walk(func) if isinstance(n, ast.Return) and n.lineno == nxt + 1), None)
    if ret is None or ret.value is None:
        return []
    elts = ret.value.elts if isinstance(ret.value, ast.Tuple) else [ret.value]
    if not all(isinstance(e, ast.Name) for e in elts):
        return []
    before = {a.arg for a in func.args.args + func.args.kwonlyargs + func.args.posonlyargs}
    before |= {a.arg for a in (func.args.vararg, func.args.kwarg) if a}
    inside = set()
    for node in ast.walk(func):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            (before if node.lineno < b.begin else inside if node.lineno < b.end else set()).add(node.id)
    names = [e.id for e in elts]
    return names if all(n in inside and n not in before for n in names) else []


def _lines(text: str) -> list[str]:
    """Lines with their endings, split at \\n only (as tokenize does; str.splitlines would
    also split at \\x0c or \\u2028 inside a string literal)."""
    return re.findall(r"[^\n]*\n|[^\n]+$", text)


def _indent(line: str) -> str:
    return line[:len(line) - len(line.lstrip(" \t"))]


def _eol(line: str) -> str:
    stripped = line.rstrip("\r\n")
    return line[len(stripped):] or "\n"


def _function_spans(tree: ast.AST) -> list[tuple[int, int, str]]:
    """(first line, last line, qualified name) of every function and class, outermost first."""
    spans: list[tuple[int, int, str]] = []

    def visit(node: ast.AST, prefix: tuple[str, ...]) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                name = prefix + (child.name,)
                spans.append((child.lineno, child.end_lineno, ".".join(name)))
                visit(child, name)
            elif isinstance(child, ast.ClassDef):
                # a block in a class body (not in a method) is owned by the class
                spans.append((child.lineno, child.end_lineno, ".".join(prefix + (child.name,))))
                visit(child, prefix + (child.name,))
            else:
                visit(child, prefix)

    visit(tree, ())
    return spans


def _owner(spans: list[tuple[int, int, str]], lineno: int) -> tuple[str, int]:
    """The innermost function whose span holds the line: (its name, its last line)."""
    best = ("<module>", 0)
    best_start = 0
    for start, end, name in spans:
        if start <= lineno <= end and start >= best_start:
            best, best_start = (name, end), start
    return best


def _hints(comments: dict[int, tuple[int, str]], begin: int, end: int) -> tuple[str, ...]:
    hints = []
    for lineno in range(begin + 1, end):
        if lineno in comments:
            m = HINT.match(comments[lineno][1])
            if m:
                hints.append(m.group(1).rstrip())
    return tuple(hints)


def _code_lines(lines: list[str], comments: dict[int, tuple[int, str]], begin: int,
                end: int) -> tuple[tuple[int, str], ...]:
    code = []
    for lineno in range(begin + 1, end):
        line = lines[lineno - 1].rstrip("\r\n")
        if lineno in comments:
            line = line[:comments[lineno][0]]
        if line.strip():
            code.append((lineno, line))
    return tuple(code)


# -- notebooks ---------------------------------------------------------------------------------
def notebook_preprocessors() -> list:
    """nbgrader's own preprocessors, in the order ``nbgrader generate_assignment`` runs them,
    less those that need its database or course config (IncludeHeaderFooter,
    InstantiateTests, SaveCells)."""
    from nbgrader.preprocessors import (CheckCellMetadata, ClearHiddenTests, ClearMarkScheme,
                                        ClearOutput, ClearSolutions, ComputeChecksums, LockCells)
    return [LockCells(), ClearSolutions(), ClearOutput(), CheckCellMetadata(),
            ComputeChecksums(), ClearHiddenTests(), ClearMarkScheme(), ComputeChecksums(),
            CheckCellMetadata()]


def read_notebook(text: str, path: str | Path = "<string>"):
    """A NotebookNode from JSON text, with any missing cell id made deterministic (nbformat
    would draw random ones, and the stubs must be byte-identical on every run)."""
    import nbformat
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as err:
        raise StubError(f"{path}:{err.lineno}: not a notebook (invalid JSON: {err.msg})")
    if (raw.get("nbformat"), raw.get("nbformat_minor", 0)) >= (4, 5):
        for i, cell in enumerate(raw.get("cells", [])):
            if not cell.get("id"):
                cell["id"] = hashlib.sha1(f"{Path(path).name}:{i}".encode()).hexdigest()[:8]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return nbformat.reads(json.dumps(raw), as_version=4)


def clear_notebook(text: str, path: str | Path = "<string>") -> str:
    """The student version of a solution notebook, cleared by nbgrader's preprocessors:
    solution regions and solution cells replaced by nbgrader's stubs, outputs cleared, hidden
    tests and mark schemes removed, cells locked and checksummed as nbgrader does. The JSON is
    written by nbformat (sorted keys, one-space indent) and ends in a newline."""
    import nbformat
    nb = read_notebook(text, path)
    resources: dict = {}
    logging.getLogger("traitlets").setLevel(logging.CRITICAL)  # nbgrader logs, then raises
    for pre in notebook_preprocessors():
        before = copy.deepcopy(nb)   # nbgrader edits a cell before it objects to it
        try:
            nb, resources = pre.preprocess(nb, resources)
        except Exception as err:  # nbgrader raises RuntimeError / ValidationError
            raise StubError(f"{path}: {_failing_cell(pre, before, resources)}nbgrader's "
                            f"{type(pre).__name__} refused the notebook: {err}") from err
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = nbformat.writes(nb)
    return out if out.endswith("\n") else out + "\n"


def _failing_cell(pre, nb, resources) -> str:
    """'cell N: ' for the first cell the preprocessor rejects on its own, else ''."""
    res = dict(resources)
    res.setdefault("language", nb.metadata.get("kernelspec", {}).get("language", "python"))
    for i, cell in enumerate(nb.cells):
        try:
            pre.preprocess_cell(copy.deepcopy(cell), res, i)
        except Exception:
            return f"cell {i} ({cell.cell_type}, starts {cell.source[:40]!r}): "
    return ""


# -- the trees ---------------------------------------------------------------------------------
def assignment_names(kit_root: str | Path) -> list[str]:
    """The assignment folders in solutions/ (any folder that is not a cache), sorted."""
    root = Path(kit_root) / "solutions"
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir()
                  if p.is_dir() and p.name not in IGNORED_NAMES and not p.name.startswith((".", "_")))


def student_version(src: Path, kit_root: Path) -> bytes:
    """What assignments/ holds for the solution file ``src``."""
    shown = src.relative_to(kit_root).as_posix()
    if src.suffix == ".py":
        text = src.read_bytes().decode("utf-8")
        return make_stub_source(text, shown).encode("utf-8")
    if src.suffix == ".ipynb":
        return clear_notebook(src.read_bytes().decode("utf-8"), shown).encode("utf-8")
    return src.read_bytes()


def generate_assignments(kit_root: str | Path, check: bool = False) -> list[Path]:
    """Write ``assignments/<name>/`` from ``solutions/<name>/`` for every assignment folder.

    ``.py`` files go through make_stub_source, ``.ipynb`` through clear_notebook (nbgrader),
    other files are copied; a file in ``assignments/<name>/`` with no source is deleted (build
    residue such as __pycache__ is left alone). Only files whose bytes differ are written.
    With ``check=True`` nothing is written. Returns the paths, relative to kit_root and sorted,
    that were (or, with check, would be) written or deleted: [] means the trees agree.
    """
    kit_root = Path(kit_root).resolve()
    changed: list[Path] = []
    for name in assignment_names(kit_root):
        src_dir = kit_root / "solutions" / name
        dst_dir = kit_root / "assignments" / name
        wanted: dict[Path, bytes] = {}
        for src in _files(src_dir):
            wanted[dst_dir / src.relative_to(src_dir)] = student_version(src, kit_root)
        for dst, data in wanted.items():
            if dst.is_file() and dst.read_bytes() == data:
                continue
            changed.append(dst.relative_to(kit_root))
            if not check:
                dst.parent.mkdir(parents=True, exist_ok=True)
                dst.write_bytes(data)
        for dst in _files(dst_dir) if dst_dir.is_dir() else []:
            if dst not in wanted:
                changed.append(dst.relative_to(kit_root))
                if not check:
                    dst.unlink()
        if not check and dst_dir.is_dir():
            _remove_empty_dirs(dst_dir)
    return sorted(changed)


def _files(root: Path) -> list[Path]:
    """Every regular file under root, build residue excluded, sorted."""
    out = []
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root).parts
        if any(part in IGNORED_NAMES for part in rel) or p.name.endswith(IGNORED_SUFFIXES):
            continue
        if p.is_file() and not p.is_symlink():
            out.append(p)
    return out


def _remove_empty_dirs(root: Path) -> None:
    for d in sorted((p for p in root.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)):
        if d.name not in IGNORED_NAMES and not any(d.iterdir()):
            d.rmdir()


def copy_tree(src: Path, dst: Path) -> None:
    """Copy the files under src that _files keeps (used by the release)."""
    for f in _files(src):
        target = dst / f.relative_to(src)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(f, target)
