"""`check` wall clock per assignment, on the stubs and on the reference, cold and warm.

    .venv/bin/python benchmarks/bench_check.py [a1 a4 ...] [--repeat 3] [--no-cold]

Each measure runs `python -m autograder check aN` (and `--submission solutions/aN_*`) as a
student would, in a fresh process, bytecode written (PYTHONDONTWRITEBYTECODE unset). Cold: the kit's `__pycache__` folders and `.cache/kit`
removed and, as root, the page cache dropped (`sync; echo 3 > /proc/sys/vm/drop_caches`),
so the first run after a fresh release pays for reading torch's libraries and compiling the
kit; warm: the runs right after. Prints wall and, as root with cgroup v1, CPU seconds (of
the whole process tree), and the load average, which a shared machine needs beside any wall
clock; each cell keeps the fastest of --repeat (cold runs start from scratch each time).
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from autograder.authoring import registry as asg  # noqa: E402


def make_cold() -> bool:
    """Remove what a fresh release does not have; True when the page cache was dropped too."""
    for pkg in ("lmcore", "autograder", "assignments", "solutions"):
        for d in (ROOT / pkg).rglob("__pycache__"):
            shutil.rmtree(d, ignore_errors=True)
    shutil.rmtree(ROOT / ".cache" / "kit", ignore_errors=True)
    try:
        subprocess.run(["sync"], check=False)
        Path("/proc/sys/vm/drop_caches").write_text("3\n")
        return True
    except OSError:   # not root: the page cache stays, and the report says so
        return False


CPUACCT = Path("/sys/fs/cgroup/cpuacct")


def one_check(name: str, submission: Path | None,
              workers: int | None = None) -> tuple[float, float | None, int]:
    """(wall s, CPU s of the whole process tree or None, exit code) of one `check`. The CPU
    time is a cgroup v1 cpuacct group's (the sandboxed workers join memory and pids groups of
    their own, never this one), where one can be made; rusage cannot see it: a worker killed
    at the end of its run is never waited for by its parent inside the sandbox."""
    cmd = [sys.executable, "-m", "autograder", "check", name]
    if submission is not None:
        cmd += ["--submission", str(submission)]
    group = CPUACCT / f"lmkit-bench-{os.getpid()}"
    try:
        group.mkdir(exist_ok=True)
        join = lambda: (group / "cgroup.procs").write_text(str(os.getpid()))  # noqa: E731
    except OSError:
        group, join = None, None
    # a student's shell: Python writes bytecode (this machine's environment may say not to)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    if workers:
        env["LMKIT_CHECK_WORKERS"] = str(workers)
    t0 = time.perf_counter()
    rc = subprocess.run(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                        preexec_fn=join, env=env).returncode
    wall = time.perf_counter() - t0
    cpu = None
    if group is not None:
        cpu = int((group / "cpuacct.usage").read_text()) / 1e9
        for _ in range(50):      # the group empties as the last sandbox processes exit
            try:
                group.rmdir()
                break
            except OSError:
                time.sleep(0.1)
    return wall, cpu, rc


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("assignments", nargs="*", help="a1 ... a5 (default: all)")
    ap.add_argument("--repeat", type=int, default=1, help="keep the best of this many (default 1)")
    ap.add_argument("--no-cold", action="store_true", help="warm runs only")
    ap.add_argument("--workers", type=int, help="check's workers (LMKIT_CHECK_WORKERS; "
                    "default: check's own choice, one per idle core)")
    args = ap.parse_args()
    names = [asg.get(n).name for n in args.assignments] or asg.available()
    print(f"{'assignment':<14}{'which':<11}{'cold wall (cpu)':>18}{'warm wall (cpu)':>18}  load")
    for name in names:
        a = asg.get(name)
        for which, sub in (("stubs", None), ("reference", a.solution_dir)):
            cold: list[tuple[float, float]] = []
            warm: list[tuple[float, float]] = []
            dropped = True
            for _ in range(max(1, args.repeat)):
                if not args.no_cold:
                    dropped = make_cold() and dropped
                    w, c, _ = one_check(name, sub, args.workers)
                    cold.append((w, c))
                w, c, rc = one_check(name, sub, args.workers)
                warm.append((w, c))
            best = lambda runs: min(runs, key=lambda r: r[0]) if runs else None  # noqa: E731
            cell = lambda r: (f"{r[0]:6.2f} s ({r[1]:4.2f})" if r and r[1] is not None  # noqa: E731
                              else f"{r[0]:6.2f} s" if r else f"{'-':>15}")
            load = os.getloadavg()[0]
            note = "" if dropped or args.no_cold else "  (page cache not dropped: not root)"
            print(f"{name:<14}{which:<11}{cell(best(cold)):>18}{cell(best(warm)):>18}  "
                  f"{load:4.1f}  exit {rc}{note}", flush=True)


if __name__ == "__main__":
    main()
