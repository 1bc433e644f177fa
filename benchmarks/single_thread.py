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


def best_time(fn, repeat: int) -> float:
    """The fastest of ``repeat`` calls of ``fn``, after one warm-up call, in seconds."""
    fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)
