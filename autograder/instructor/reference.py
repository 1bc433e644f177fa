"""The public tests' expected outputs, committed as data under ``suites/<a>/expected/`` so a
student can check without the reference (``python -m autograder expected aN`` rebuilds them;
``verify`` and the kit's tests fail when they are stale)."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

from autograder.authoring.declare import Test
from autograder.authoring.registry import Assignment
from autograder.engine.expected import folder_name, public_dir, run_reference, spec_hash
from autograder.engine.wire import write_outputs


def build_public(assignment: Assignment, tests: list[Test], preload=("numpy",)) -> Path:
    """Recompute and store the public tests' expected outputs (the committed data)."""
    wanted = [t for t in tests if t.visibility == "public" and t.needs_reference]
    outputs = run_reference(assignment, wanted, preload)
    dest = public_dir(assignment)
    tmp = dest.with_name("expected.tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    index = {}
    for t in wanted:
        d = tmp / folder_name(t)
        d.mkdir()
        write_outputs(outputs[t.name], d)
        index[t.name] = {"spec": spec_hash(t)}
    (tmp / "index.json").write_text(json.dumps(index, indent=1, sort_keys=True) + "\n")
    if dest.exists():
        shutil.rmtree(dest)
    tmp.rename(dest)
    return dest


def stale_public(assignment: Assignment, tests: list[Test]) -> list[str]:
    """Public tests whose committed expected data is missing or was made for another spec."""
    index_file = public_dir(assignment) / "index.json"
    index = json.loads(index_file.read_text()) if index_file.exists() else {}
    return [t.name for t in tests if t.visibility == "public" and t.needs_reference
            and index.get(t.name, {}).get("spec") != spec_hash(t)]
