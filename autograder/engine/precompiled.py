"""The package under test compiled once in the worker, before it forks its tests.

Only the standard library: the worker imports it before anything else (worker.py).
"""
from __future__ import annotations

import importlib.abc
import importlib.machinery
import os
from pathlib import Path


class Precompiled(importlib.abc.MetaPathFinder):
    """Serves the package under test from code objects compiled once in the worker, before
    forking: each forked test would otherwise compile every module it imports from source
    again (the staged package has no bytecode and a forked child's writes die with it),
    10-30 ms a test. Compiling is not running: no graded code executes before a test's
    child imports it, and a module that does not compile is left to that import, so its
    SyntaxError still costs only the tests that use it."""

    def __init__(self, package: str, folder: Path):
        self.package = package
        self.codes: dict[str, tuple[tuple[int, int], object]] = {}
        for path in sorted(folder.glob("*.py")):
            origin = str(path)
            try:
                st = path.stat()
                code = importlib.machinery.SourceFileLoader(package, origin).source_to_code(
                    path.read_bytes(), origin)
            except (SyntaxError, ValueError, OSError, MemoryError, RecursionError):
                continue
            self.codes[origin] = ((st.st_mtime_ns, st.st_size), code)

    def find_spec(self, name, path=None, target=None):
        if name != self.package and not name.startswith(self.package + "."):
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path, target)
        if spec is None or spec.origin not in self.codes:
            return spec
        stamp, code = self.codes[spec.origin]
        try:
            st = os.stat(spec.origin)
        except OSError:
            return spec
        if (st.st_mtime_ns, st.st_size) == stamp:  # a file rewritten since is compiled anew
            spec.loader = CodeLoader(name, spec.origin, code)
        return spec


class CodeLoader(importlib.machinery.SourceFileLoader):
    def __init__(self, fullname: str, path: str, code):
        super().__init__(fullname, path)
        self._code = code

    def get_code(self, fullname):
        return self._code
