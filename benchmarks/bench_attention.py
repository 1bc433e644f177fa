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


def race(arrays, dout, ours_forward, ours_backward, torch_forward, repeat):
    """Best times of our forward + backward and of torch's forward + autograd backward on the
    same inputs. ``arrays``: name -> float64 array; ``ours_forward(arrays)`` -> (out, cache);
    ``torch_forward(tensors)`` -> out, where ``tensors`` holds a leaf tensor per array."""
    def ours():
        _, cache = ours_forward(arrays)
        ours_backward(dout, cache)

    tensors = {k: torch.tensor(a, requires_grad=True) for k, a in arrays.items()}
    tdout = torch.tensor(dout)

    def theirs():
        for t in tensors.values():
            t.grad = None
        torch_forward(tensors).backward(tdout)

    return best_time(ours, repeat, CLOCK), best_time(theirs, repeat, CLOCK)


def attention_case(N, h, T, d, repeat):
    rng = np.random.default_rng(0)
    q, k, v, dout = (rng.standard_normal((N, h, T, d)) for _ in range(4))
    mask = attention.causal_mask(T)
    return race({"q": q, "k": k, "v": v}, dout,
                lambda a: attention.attention_forward(a["q"], a["k"], a["v"], mask),
                attention.attention_backward,
                lambda t: F.scaled_dot_product_attention(t["q"], t["k"], t["v"], is_causal=True),
                repeat)


def layernorm_case(N, T, D, repeat):
    rng = np.random.default_rng(1)
    x, dout = rng.standard_normal((N, T, D)), rng.standard_normal((N, T, D))
    gamma, beta = 1 + rng.standard_normal(D) * 0.1, rng.standard_normal(D) * 0.1
    return race({"x": x, "gamma": gamma, "beta": beta}, dout,
                lambda a: layers.layernorm_forward(a["x"], a["gamma"], a["beta"]),
                layers.layernorm_backward,
                lambda t: F.layer_norm(t["x"], (D,), t["gamma"], t["beta"]), repeat)


def mha_case(N, T, D, h, repeat):
    rng = np.random.default_rng(2)
    x, dout = rng.standard_normal((N, T, D)), rng.standard_normal((N, T, D))
    p = _block_params(rng, D, 4 * D)
    names = ("x", "W_qkv", "b_qkv", "W_o", "b_o")
    arrays = dict(zip(names, (x, p["W_qkv"], p["b_qkv"], p["W_o"], p["b_o"])))
    return race(arrays, dout,
                lambda a: attention.multihead_attention_forward(*(a[n] for n in names), h),
                attention.multihead_attention_backward,
                lambda t: _torch_mha(torch, *(t[n] for n in names), h), repeat)


def block_case(N, T, D, h, repeat):
    rng = np.random.default_rng(3)
    x, dout = rng.standard_normal((N, T, D)), rng.standard_normal((N, T, D))
    p = _block_params(rng, D, 4 * D)
    assert set(p) == set(BLOCK_PARAMS)

    def torch_block(t):
        a = F.layer_norm(t["x"], (D,), t["ln1_gamma"], t["ln1_beta"])
        hid = t["x"] + _torch_mha(torch, a, t["W_qkv"], t["b_qkv"], t["W_o"], t["b_o"], h)
        m = F.layer_norm(hid, (D,), t["ln2_gamma"], t["ln2_beta"])
        mlp = F.gelu(m @ t["W_fc"] + t["b_fc"], approximate="tanh")
        return hid + mlp @ t["W_proj"] + t["b_proj"]

    return race({"x": x, **p}, dout, lambda a: layers.decoder_block_forward(a["x"], p, h),
                layers.decoder_block_backward, torch_block, repeat)


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
