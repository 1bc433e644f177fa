#!/usr/bin/env python3
"""One entry point that works on a fresh machine with only Python 3.11:

    python3 kit.py demo    the instructor pipeline on the bundled examples (verify, release, grade, report)
    python3 kit.py test    the whole test suite (what CI runs), with the slowest tests listed
    python3 kit.py test --fast   everything but sandbox batches, notebooks and platform tools
                           (both on every core with pytest-xdist; `-n 0` runs them in one process)
    python3 kit.py setup   only create .venv and install the pinned requirements
    python3 kit.py <cmd>   any `python -m autograder` command, e.g. `python3 kit.py check a1`

The virtual environment is created and the pinned requirements installed when missing or when
requirements*.txt changed; otherwise nothing is installed. demo, test and setup also install
the system package the sandbox needs (bubblewrap) when they can (root with apt-get; set
LMKIT_NO_APT=1 to stop that), and otherwise say in one line what is missing, what that costs
and the command that fixes it.
"""
from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
REQUIREMENTS = [ROOT / "requirements.txt", ROOT / "requirements.lock"]


def venv_python() -> Path:
    return VENV / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def python_floor() -> tuple[int, ...]:
    """The one Python floor of the kit: ``requires-python`` in pyproject.toml."""
    m = re.search(r'requires-python\s*=\s*">=\s*([\d.]+)"', (ROOT / "pyproject.toml").read_text())
    return tuple(int(x) for x in m.group(1).split(".")) if m else (3, 11)


def ensure_venv() -> Path:
    floor = python_floor()
    if sys.version_info < floor:
        want = ".".join(map(str, floor))
        sys.exit(f"lmkit needs Python >= {want}; this is {sys.version.split()[0]}. "
                 f"Run it with python{want}.")
    py = venv_python()
    stamp = VENV / ".installed"
    want = hashlib.sha256(b"".join(p.read_bytes() for p in REQUIREMENTS)).hexdigest()
    if py.exists() and stamp.exists() and stamp.read_text().strip() == want:
        return py
    if not py.exists():
        print(f"creating {VENV} ...", flush=True)
        subprocess.check_call([sys.executable, "-m", "venv", str(VENV)])
    print("installing the pinned requirements (about a minute the first time) ...", flush=True)
    subprocess.check_call([str(py), "-m", "pip", "install", "--quiet", "--upgrade", "pip"])
    subprocess.check_call([str(py), "-m", "pip", "install", "--quiet", "-r", str(REQUIREMENTS[0]),
                           "-c", str(REQUIREMENTS[1])])
    stamp.write_text(want + "\n")
    return py


def ensure_system_packages(py: str) -> None:
    """bubblewrap for the sandbox's namespaces: installed with apt-get as root on Linux; else
    one line from `doctor --brief` (what is missing, which attacks get through, the fix)."""
    import shutil
    if not sys.platform.startswith("linux"):
        return
    if not shutil.which("bwrap") and os.geteuid() == 0 and shutil.which("apt-get") \
            and not os.environ.get("LMKIT_NO_APT"):
        print("installing bubblewrap (the sandbox's namespaces) with apt-get ...", flush=True)
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        quiet = dict(stdout=subprocess.DEVNULL, env=env)
        if subprocess.call(["apt-get", "install", "-y", "-qq", "bubblewrap"], **quiet) != 0:
            subprocess.call(["apt-get", "update", "-qq"], **quiet)
            subprocess.call(["apt-get", "install", "-y", "-qq", "bubblewrap"], **quiet)
    subprocess.call([py, "-m", "autograder", "doctor", "--brief"], cwd=ROOT)


def test_workers(args: list[str]) -> list[str]:
    """pytest-xdist's options: one test process more than the cores (3 to 5), tests that share
    work kept together and the longest sent first (tests/conftest.py); none when the caller
    chose (``-n``, ``-p no:xdist``). The extra one fills the time a test waits (hangs that
    must time out, a submission's own budget, a subprocess starting): on 2 cores, -n 2 left
    about 6% of the suite's core-seconds idle (363 s), -n 3 none (342 s)."""
    if any(a == "-n" or a.startswith(("-n=", "--numprocesses")) or a == "no:xdist" for a in args):
        return []
    n = min(4, max(2, os.cpu_count() or 2)) + 1
    return ["-n", str(n)]


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        return 0
    py = str(ensure_venv())
    cmd, rest = argv[0], argv[1:]
    os.chdir(ROOT)
    if cmd in ("setup", "demo", "test"):
        ensure_system_packages(py)
    if cmd == "setup":
        return 0
    if cmd == "test":
        spread = test_workers(rest)
        if "--fast" in rest:
            rest = [a for a in rest if a != "--fast"]
            return subprocess.call([py, "-m", "pytest", "-q", *spread, "-m", "not slow", *rest])
        return subprocess.call([py, "-m", "pytest", "-q", *spread, "--durations=15", *rest])
    if cmd == "demo":
        return subprocess.call([py, "-m", "autograder", "demo", *rest])
    return subprocess.call([py, "-m", "autograder", cmd, *rest])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
