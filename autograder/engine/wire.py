"""The only way data crosses from a worker to the grader: files, validated on arrival.

The worker writes ``outputs.json`` in which every numpy array is replaced by
``{"$array": "a<k>.npy"}`` (saved beside it) and every non-finite float by
``{"$float": "nan" | "inf" | "-inf"}``. The parent reads arrays with ``allow_pickle=False``,
accepts only numeric and boolean dtypes, and rebuilds plain Python values: nothing from the
worker is unpickled or evaluated, and no object of a student's class reaches a comparison.
"""
from __future__ import annotations

import json
import re
import math
import os
from pathlib import Path
from typing import Any

import numpy as np

OUTPUTS_FILE = "outputs.json"
MAX_JSON_BYTES = 20 * 2**20
MAX_ARRAYS = 256
MAX_ARRAY_BYTES = 256 * 2**20
MAX_DEPTH = 16
ALLOWED_KINDS = "biufc"  # bool, int, uint, float, complex: never object, string or void


class OutputError(ValueError):
    """The worker's output is not well-formed plain data (message says what and where)."""


# -- encoding (in the worker) ---------------------------------------------------------------
def to_plain(value: Any, path: str = "output") -> Any:
    """Convert ``value`` to plain data, accepting only the types a scenario may return.

    Exact types are checked (``type(x) is float``), so subclasses of float, int, str or dict,
    objects with a custom ``__eq__`` and numpy subclasses are refused or converted to base
    types: a scenario output is data, never an object.
    """
    t = type(value)
    if value is None or t is bool or t is str:
        return value
    if t is int:
        return value
    if t is float:
        return value
    if isinstance(value, np.generic) and type(value).__module__ == "numpy":
        if value.dtype.kind not in ALLOWED_KINDS:
            raise OutputError(f"{path}: numpy scalar of dtype {value.dtype} is not numeric")
        if value.dtype.kind == "c":
            return np.array(value)  # JSON has no complex numbers: a 0-d array carries it
        return value.item()
    if t is np.ndarray:
        return value
    if isinstance(value, np.ndarray):
        # A subclass (np.matrix, a student's class with its own __eq__) becomes a plain copy
        # of its data: only the values cross, never the class.
        return np.array(value, subok=False)
    if t.__module__.startswith("torch") and t.__name__ in ("Tensor", "Parameter"):
        return np.array(value.detach().cpu().numpy())
    if t is dict:
        out = {}
        for k, v in value.items():
            if type(k) is not str:
                raise OutputError(f"{path}: dict keys must be str, got {type(k).__name__}")
            out[k] = to_plain(v, f"{path}[{k!r}]")
        return out
    if t is list or t is tuple:
        return [to_plain(v, f"{path}[{i}]") for i, v in enumerate(value)]
    raise OutputError(f"{path}: a value of type {t.__module__}.{t.__qualname__} cannot be "
                      "returned as an output (plain numbers, strings, lists, dicts and "
                      "numpy arrays only)")


def write_outputs(value: Any, folder: str | Path) -> None:
    """Encode ``value`` into ``folder`` (write to a temporary name, then rename)."""
    folder = Path(folder)
    arrays: list[np.ndarray] = []

    def enc(v):
        if isinstance(v, np.ndarray):
            # not np.ascontiguousarray: it turns a 0-d array (a torch scalar loss) into shape (1,)
            a = np.array(v, order="C", subok=False)
            if a.dtype.kind not in ALLOWED_KINDS:
                raise OutputError(f"an array of dtype {a.dtype} cannot be returned "
                                  "(numeric or boolean arrays only)")
            name = f"a{len(arrays)}.npy"
            arrays.append(a)
            np.save(folder / name, a, allow_pickle=False)
            return {"$array": name}
        if type(v) is float and not math.isfinite(v):
            return {"$float": repr(v)}
        if isinstance(v, dict):
            return {k: enc(x) for k, x in v.items()}
        if isinstance(v, list):
            return [enc(x) for x in v]
        return v

    doc = enc(to_plain(value))
    tmp = folder / (OUTPUTS_FILE + ".tmp")
    tmp.write_text(json.dumps(doc, allow_nan=False))
    os.replace(tmp, folder / OUTPUTS_FILE)


# -- decoding (in the parent) ---------------------------------------------------------------
_BRACKETS = str.maketrans("", "", "".join(chr(c) for c in range(128) if chr(c) not in '[]{}"\\'))
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')


def nesting_depth(text: str) -> int:
    """How deeply ``text`` (JSON) nests, found without recursing. Every JSON document from a
    worker is measured before it is parsed: json's C decoder recurses once per level, and on
    Python 3.11 the RecursionError that [[[[...]]]] raises can leave the thread unable to parse
    anything with ``ast`` (np.load's header) for the rest of the batch."""
    depth = deepest = 0
    for ch in _STRING.sub("", text.translate(_BRACKETS)):
        if ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth -= 1
    return deepest


def loads_shallow(text: str, max_depth: int | None = None, **kw) -> Any:
    """``json.loads`` of a worker's text, refused (ValueError) when it nests too deeply."""
    limit = MAX_DEPTH + 2 if max_depth is None else max_depth
    if nesting_depth(text) > limit:
        raise ValueError(f"nested more than {limit} levels deep")
    return json.loads(text, **kw)


def read_outputs(folder: str | Path) -> Any:
    """Read and validate what a worker wrote; raise ``OutputError`` on anything else."""
    folder = Path(folder)
    f = folder / OUTPUTS_FILE
    if not f.is_file() or f.is_symlink():
        raise OutputError("the test wrote no outputs")
    try:
        raw = _read_nofollow(f, MAX_JSON_BYTES)
    except OSError as err:
        raise OutputError(f"outputs could not be read ({err.strerror or err})") from None
    if raw is None:
        raise OutputError(f"outputs too large (over {MAX_JSON_BYTES} bytes)")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise OutputError(f"outputs are not valid JSON: {err}") from None
    if nesting_depth(text) > MAX_DEPTH + 2:
        raise OutputError("outputs nested too deeply")
    try:
        doc = json.loads(text, parse_constant=lambda c: (_ for _ in ()).throw(OutputError(c)))
    except (ValueError, UnicodeDecodeError) as err:
        raise OutputError(f"outputs are not valid JSON: {err}") from None
    except RecursionError:  # json's C decoder recurses per level: [[[[...]]]] is an attack
        raise OutputError("outputs nested too deeply") from None
    seen: list[str] = []

    def dec(v, depth):
        if depth > MAX_DEPTH:
            raise OutputError("outputs nested too deeply")
        if isinstance(v, dict):
            if set(v) == {"$array"}:
                return load_array(v["$array"])
            if set(v) == {"$float"}:
                if v["$float"] not in ("nan", "inf", "-inf"):
                    raise OutputError(f"bad float marker {v['$float']!r}")
                return float(v["$float"])
            return {str(k): dec(x, depth + 1) for k, x in v.items()}
        if isinstance(v, list):
            return [dec(x, depth + 1) for x in v]
        if v is None or isinstance(v, (bool, int, float, str)):
            return v
        raise OutputError(f"unexpected JSON value {type(v).__name__}")

    def load_array(name):
        if (not isinstance(name, str) or "/" in name or "\\" in name or name.startswith(".")
                or not name.endswith(".npy")):
            raise OutputError(f"bad array file name {name!r}")
        if name in seen or len(seen) >= MAX_ARRAYS:
            raise OutputError("too many or repeated arrays in outputs")
        seen.append(name)
        p = folder / name
        if not p.is_file() or p.is_symlink() or p.stat().st_size > MAX_ARRAY_BYTES:
            raise OutputError(f"array file {name} is missing or too large")
        try:
            fd = os.open(p, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
            with os.fdopen(fd, "rb") as fh:
                if os.fstat(fh.fileno()).st_size > MAX_ARRAY_BYTES:
                    raise OutputError(f"array file {name} is missing or too large")
                a = np.load(fh, allow_pickle=False)
        except OutputError:
            raise
        except Exception as err:  # a malformed .npy: say so, never crash the grader
            raise OutputError(f"array file {name} is not a valid .npy: {err}") from None
        if type(a) is not np.ndarray:  # np.load also opens .npz archives
            raise OutputError(f"array file {name} is not a .npy array")
        if a.dtype.kind not in ALLOWED_KINDS:
            raise OutputError(f"array {name} has dtype {a.dtype}; numeric arrays only")
        return a

    return dec(doc, 0)


def _read_nofollow(path: Path, cap: int) -> bytes | None:
    """The file's bytes, or None when it holds more than ``cap``. Opened without following a
    symbolic link, so a link swapped in after the checks above still never leads elsewhere."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    with os.fdopen(fd, "rb") as fh:
        data = fh.read(cap + 1)
    return None if len(data) > cap else data
