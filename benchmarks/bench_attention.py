"""Forward + backward of a5's numpy layers against the same computation in torch autograd,
float64 on the CPU, one thread each, measured side by side in one run. Prints one row per case
and the ratio numpy / torch (goal: within 1.5x).

    python benchmarks/bench_attention.py [--repeat 5] [--quick] [--wall] [--steady-heap]

Times are this thread's CPU time (``--wall``: the wall clock, which a shared machine's
neighbours inflate), the best of ``--repeat`` calls after one warm-up.

Cases (GPT-2-small-like proportions at a CPU size): causal scaled dot-product attention
(attention_forward/backward vs F.scaled_dot_product_attention(is_causal=True)), layer
normalisation (vs F.layer_norm), multi-head self-attention, and the whole pre-norm decoder
block (vs the same block from torch's functional pieces: the oracle the tests use).
"""
from __future__ import annotations

from single_thread import ROOT, best_time  # noqa: F401  first: one BLAS thread

import argparse
import time

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from a5_attention import attention, layers  # noqa: E402
from autograder.suites.a5_attention.scenarios.attention import _torch_mha  # noqa: E402  (the tests' oracle)
from autograder.suites.a5_attention.scenarios.layers import BLOCK_PARAMS, _block_params  # noqa: E402

torch.set_num_threads(1)
CLOCK = time.thread_time


def attention_case(N, h, T, d, repeat):
    rng = np.random.default_rng(0)
    q, k, v, dout = (rng.standard_normal((N, h, T, d)) for _ in range(4))
    mask = attention.causal_mask(T)

    def ours():
        _, cache = attention.attention_forward(q, k, v, mask)
        attention.attention_backward(dout, cache)

    tq, tk, tv = (torch.tensor(a, requires_grad=True) for a in (q, k, v))
    tdout = torch.tensor(dout)

    def theirs():
        for t in (tq, tk, tv):
            t.grad = None
        F.scaled_dot_product_attention(tq, tk, tv, is_causal=True).backward(tdout)

    return best_time(ours, repeat, CLOCK), best_time(theirs, repeat, CLOCK)


def layernorm_case(N, T, D, repeat):
    rng = np.random.default_rng(1)
    x, dout = rng.standard_normal((N, T, D)), rng.standard_normal((N, T, D))
    gamma, beta = 1 + rng.standard_normal(D) * 0.1, rng.standard_normal(D) * 0.1

    def ours():
        _, cache = layers.layernorm_forward(x, gamma, beta)
        layers.layernorm_backward(dout, cache)

    tx, tg, tb = (torch.tensor(a, requires_grad=True) for a in (x, gamma, beta))
    tdout = torch.tensor(dout)

    def theirs():
        for t in (tx, tg, tb):
            t.grad = None
        F.layer_norm(tx, (D,), tg, tb).backward(tdout)

    return best_time(ours, repeat, CLOCK), best_time(theirs, repeat, CLOCK)


def mha_case(N, T, D, h, repeat):
    rng = np.random.default_rng(2)
    x, dout = rng.standard_normal((N, T, D)), rng.standard_normal((N, T, D))
    p = _block_params(rng, D, 4 * D)
    w = (p["W_qkv"], p["b_qkv"], p["W_o"], p["b_o"])

    def ours():
        _, cache = attention.multihead_attention_forward(x, *w, h)
        attention.multihead_attention_backward(dout, cache)

    t = [torch.tensor(a, requires_grad=True) for a in (x, *w)]
    tdout = torch.tensor(dout)

    def theirs():
        for a in t:
            a.grad = None
        _torch_mha(torch, *t, h).backward(tdout)

    return best_time(ours, repeat, CLOCK), best_time(theirs, repeat, CLOCK)


def block_case(N, T, D, h, repeat):
    rng = np.random.default_rng(3)
    x, dout = rng.standard_normal((N, T, D)), rng.standard_normal((N, T, D))
    p = _block_params(rng, D, 4 * D)

    def ours():
        _, cache = layers.decoder_block_forward(x, p, h)
        layers.decoder_block_backward(dout, cache)

    tp = {k: torch.tensor(v, requires_grad=True) for k, v in p.items()}
    tx = torch.tensor(x, requires_grad=True)
    tdout = torch.tensor(dout)

    def theirs():
        for a in (tx, *tp.values()):
            a.grad = None
        a = F.layer_norm(tx, (D,), tp["ln1_gamma"], tp["ln1_beta"])
        hid = tx + _torch_mha(torch, a, tp["W_qkv"], tp["b_qkv"], tp["W_o"], tp["b_o"], h)
        m = F.layer_norm(hid, (D,), tp["ln2_gamma"], tp["ln2_beta"])
        y = hid + F.gelu(m @ tp["W_fc"] + tp["b_fc"], approximate="tanh") @ tp["W_proj"] + tp["b_proj"]
        y.backward(tdout)

    assert set(p) == set(BLOCK_PARAMS)
    return best_time(ours, repeat, CLOCK), best_time(theirs, repeat, CLOCK)


def steady_heap() -> None:
    """Ask glibc to keep freed memory in the heap (no trimming, no mmap below 32 MiB).

    numpy allocates a fresh array for every intermediate result; with glibc's defaults, a
    freed 1 MiB temporary at the top of the heap is often returned to the kernel and the next
    one page-faults its way back, so the numpy side's time depends on the heap's history more
    than on its arithmetic. torch's side is measured under the same settings."""
    import ctypes
    libc = ctypes.CDLL("libc.so.6")
    M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
    libc.mallopt(M_TRIM_THRESHOLD, 1 << 30)
    libc.mallopt(M_MMAP_THRESHOLD, 1 << 25)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--quick", action="store_true", help="small shapes (a smoke test)")
    ap.add_argument("--wall", action="store_true",
                    help="time by the wall clock (default: this thread's CPU time)")
    ap.add_argument("--steady-heap", action="store_true",
                    help="glibc keeps freed memory (see steady_heap)")
    a = ap.parse_args()
    if a.steady_heap:
        steady_heap()
    global CLOCK
    CLOCK = time.perf_counter if a.wall else time.thread_time
    N, T, D, h = (2, 8, 16, 2) if a.quick else (16, 64, 128, 4)
    cases = [
        (f"attention (N={N}, h={h}, T={T}, d_k={D // h})", lambda: attention_case(N, h, T, D // h, a.repeat)),
        (f"layer norm (N={N}, T={T}, D={D})", lambda: layernorm_case(N, T, D, a.repeat)),
        (f"multi-head attention (N={N}, T={T}, D={D}, h={h})", lambda: mha_case(N, T, D, h, a.repeat)),
        (f"decoder block (N={N}, T={T}, D={D}, h={h}, F={4 * D})", lambda: block_case(N, T, D, h, a.repeat)),
    ]
    print(f"forward + backward, float64, one thread, best of {a.repeat} "
          f"({'wall clock' if a.wall else 'thread CPU time'}"
          f"{', steady heap' if a.steady_heap else ''}); numpy / torch autograd "
          "(goal: within 1.5x)")
    for name, run in cases:
        ours, theirs = run()
        print(f"{name:<52} numpy {ours * 1e3:8.2f} ms  torch {theirs * 1e3:8.2f} ms  "
              f"{ours / theirs:5.2f}x", flush=True)


if __name__ == "__main__":
    main()
