"""What the layer benchmarks share: one BLAS thread (set before numpy or torch is imported, so
import this module first), the kit and solutions/ on sys.path, and the best-of-N timer."""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, "1")

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "solutions")]


def best_time(fn, repeat: int, clock=time.perf_counter) -> float:
    """The fastest of ``repeat`` calls of ``fn``, after one warm-up call, in seconds of
    ``clock`` (``time.thread_time``: this thread's CPU time, which a loaded machine's
    neighbours do not inflate the way they do the wall clock)."""
    fn()
    times = []
    for _ in range(repeat):
        t0 = clock()
        fn()
        times.append(clock() - t0)
    return min(times)
