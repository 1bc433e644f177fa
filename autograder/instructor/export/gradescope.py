"""Gradescope: an autograder zip that grades with this kit's sandboxed engine.

The zip's root holds ``setup.sh`` (run once as root while Gradescope builds the image: a
Python 3.11 venv in /opt/lmkit-venv with the pinned requirements, and bubblewrap),
``run_autograder`` (run per submission) and the kit (``bundle.py``). In the container the
submission is in ``/autograder/submission`` and the result goes to
``/autograder/results/results.json``; ``LMKIT_GRADESCOPE_ROOT`` replaces ``/autograder`` and
``LMKIT_PYTHON`` the venv's python, which is how the tests run it outside a container.

Student code runs in the engine's workers: bubblewrap namespaces where the container allows
them, an unprivileged uid (``/autograder`` is made 0700 first, so source/, the hidden suite and
results/ are out of its reach), rlimits and a wall-clock limit per test. A results.json is
written whatever happens: if the engine crashes, a valid document with score 0 and the reason.
"""
from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

from autograder.authoring.registry import Assignment
from autograder.instructor.export.bundle import bundle_kit, crash_doc, grade_to_doc, zip_tree

VENV = "/opt/lmkit-venv"

SETUP_SH = """\
#!/usr/bin/env bash
# Gradescope runs this once, as root, while it builds the autograder image (Ubuntu 22.04).
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
SRC=/autograder/source
VENV={venv}
apt-get update
apt-get install -y --no-install-recommends bubblewrap util-linux ca-certificates \\
    software-properties-common
# Python 3.11: jammy-updates has it; deadsnakes is the fallback
if ! apt-get install -y --no-install-recommends python3.11 python3.11-venv python3.11-dev; then
    add-apt-repository -y ppa:deadsnakes/ppa
    apt-get update
    apt-get install -y --no-install-recommends python3.11 python3.11-venv python3.11-dev
fi
python3.11 -m venv "$VENV"
"$VENV/bin/python" -m pip install --upgrade pip
# torch's CPU build (the PyPI one pulls CUDA); `==2.13.0` in the lock accepts 2.13.0+cpu
"$VENV/bin/python" -m pip install --extra-index-url https://download.pytorch.org/whl/cpu \\
    -r "$SRC/requirements.txt" -c "$SRC/requirements.lock"
# the unprivileged worker uid must be able to start this interpreter
chmod -R a+rX "$VENV"
chmod +x "$SRC/run_autograder"
# self-test: the reference must get full marks on this image, or the build fails here
"$VENV/bin/python" -I -c 'import sys; sys.path.insert(0, sys.argv[1]); \\
from autograder.instructor.export.gradescope import self_test; sys.exit(self_test(sys.argv[2]))' "$SRC" {name}
"""

RUN_AUTOGRADER = """\
#!/usr/bin/env bash
# Gradescope runs this per submission, as root, in /autograder. It always leaves a valid
# results/results.json: the engine writes one; if it could not, the fallback below does.
ROOT="${{LMKIT_GRADESCOPE_ROOT:-/autograder}}"
PY="${{LMKIT_PYTHON:-{venv}/bin/python}}"
mkdir -p "$ROOT/results"
cd "$ROOT/source" || exit 1
"$PY" -I -c 'import sys; sys.path.insert(0, sys.argv[1]); \\
from autograder.instructor.export.gradescope import run_autograder; sys.exit(run_autograder(sys.argv[3], sys.argv[2]))' \\
    "$ROOT/source" "$ROOT" {name}
status=$?
if ! "$PY" -I -c 'import json, sys; d = json.load(open(sys.argv[1])); assert isinstance(d, dict)' \\
        "$ROOT/results/results.json" 2>/dev/null; then
    cat > "$ROOT/results/results.json" <<'JSON'
{{"score": 0, "output": "The autograder crashed before it could grade this submission (exit code unknown), so it scored 0 for now. Your instructor can see the log; resubmit or ask them to regrade.", "output_format": "text", "visibility": "visible", "stdout_visibility": "hidden", "tests": []}}
JSON
    echo "run_autograder: the engine exited with $status and left no valid results.json"
fi
exit 0
"""


def export_gradescope(a: Assignment, out: Path) -> Path:
    """Write the autograder zip for ``a`` to ``out``."""
    with tempfile.TemporaryDirectory(prefix="lmkit-gs-") as tmp:
        root = Path(tmp)
        bundle_kit(a, root)
        (root / "setup.sh").write_text(SETUP_SH.format(venv=VENV, name=a.name))
        (root / "run_autograder").write_text(RUN_AUTOGRADER.format(venv=VENV, name=a.name))
        return zip_tree(root, out, executables=("setup.sh", "run_autograder"))


def _lock_down(root: Path) -> None:
    """Only root may enter /autograder: source/ (hidden tests, reference), results/ and the
    other students' metadata are out of reach of the worker's uid even without bubblewrap."""
    try:
        os.chmod(root, 0o700)
        for d in ("source", "results", "submission"):
            if (root / d).exists():
                os.chmod(root / d, 0o700)
    except OSError as err:
        print(f"note: could not restrict {root} ({err})")


def run_autograder(assignment: str, root: str) -> int:
    """Grade ``root/submission`` into ``root/results/results.json`` (Gradescope's layout)."""
    start = time.monotonic()
    rootp = Path(root)
    results = rootp / "results"
    results.mkdir(parents=True, exist_ok=True)
    doc = None
    try:
        _lock_down(rootp)
        doc = grade_to_doc(assignment, rootp / "submission", "gradescope")
    except BaseException as err:  # noqa: BLE001
        doc = crash_doc(assignment, f"{type(err).__name__}: {err}", time.monotonic() - start)
    finally:
        text = json.dumps(doc if doc is not None else crash_doc(assignment, "unknown"), indent=2)
        tmp = results / ".results.json.tmp"
        tmp.write_text(text + "\n")
        os.replace(tmp, results / "results.json")
    print(f"wrote {results / 'results.json'}: score {doc['score']:g}")
    sys.stdout.flush()
    return 0


def self_test(assignment: str) -> int:
    """Grade the bundled reference: full marks or a failed image build."""
    from autograder.authoring import registry as asg
    a = asg.get(assignment)
    doc = grade_to_doc(a.name, a.solution_dir, "gradescope-selftest")
    full = doc["extra_data"].get("max_score")
    if full is None or doc["score"] < full - 1e-9:
        print(f"self-test FAILED: the reference scored {doc['score']:g}/{full}:")
        for t in doc["tests"]:
            if t["status"] != "passed":
                print(f"  {t['name']}: {t['output'][:300]}")
        return 1
    print(f"self-test passed: the reference scored {doc['score']:g}/{full:g}; sandbox: "
          + ", ".join(doc["extra_data"].get("sandbox", [])))
    return 0
