"""Window LM (a2): the numpy reference against the same network in torch autograd.

Prints, in one run on this machine:
- forward+backward time of ``WindowLM.loss`` against torch (float64, CPU, same shapes, same
  weights, same masked softmax), as a ratio (goal: within 1.5x of torch);
- training throughput of ``a2_window.train.train`` in predicted tokens per second.

    python benchmarks/bench_window.py [--batch 128] [--repeats 30] [--threads 1]

Both libraries get the same number of BLAS/intra-op threads (``--threads``), set before the
first matrix product. The loss values are compared too, so the benchmark cannot time two
different networks.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _set_threads(n: int) -> None:
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(n)


def median_times(fns, repeats: int) -> list[float]:
    """Median seconds per call of each function, timed in interleaved rounds so that a change
    in the machine's load during the run affects every function alike."""
    for fn in fns:
        fn()                                # warm-up: allocations, thread pools
    times = [[] for _ in fns]
    for _ in range(repeats):
        for fn, ts in zip(fns, times):
            start = time.perf_counter()
            fn()
            ts.append(time.perf_counter() - start)
    return [sorted(ts)[len(ts) // 2] for ts in times]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=128, help="windows per minibatch (N)")
    ap.add_argument("--repeats", type=int, default=30)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--train-steps", type=int, default=60)
    args = ap.parse_args(argv)
    _set_threads(args.threads)

    sys.path[:0] = [str(ROOT), str(ROOT / "solutions")]
    import numpy as np
    import torch

    from a2_window.models import WindowLM
    from a2_window.train import TrainConfig, train
    from lmcore.corpus import load_shakespeare
    from lmcore.vocab import Vocab

    torch.set_num_threads(args.threads)
    sentences = load_shakespeare("train")
    vocab = Vocab.build(sentences, min_count=2)
    C, D, H, N = 3, 32, 128, args.batch
    lm = WindowLM(vocab, np.random.default_rng(0), n_context=C, d_embed=D, d_hidden=H)
    contexts, targets = lm.windows(sentences[:5000])
    x, y = contexts[:N], targets[:N]
    print(f"window LM: V={len(vocab)}, C={C}, D={D}, H={H}, N={N}, float64, "
          f"{args.threads} thread(s); numpy {np.__version__}, torch {torch.__version__}")

    # -- the same network in torch ------------------------------------------------------------
    tp = {k: torch.tensor(v, requires_grad=True) for k, v in lm.params.items()}
    mask = torch.tensor(lm.mask)
    tx, ty = torch.tensor(x), torch.tensor(y)

    def torch_step():
        for p in tp.values():
            p.grad = None
        e = tp["W_emb"][tx].reshape(N, C * D)
        h = torch.tanh(e @ tp["W1"] + tp["b1"])
        scores = (h @ tp["W2"] + tp["b2"]).masked_fill(~mask, float("-inf"))
        loss = torch.nn.functional.cross_entropy(scores, ty)
        loss.backward()
        return loss

    def numpy_step():
        return lm.loss(x, y)

    np_loss, np_grads = numpy_step()
    t_loss = torch_step()
    assert abs(np_loss - t_loss.item()) < 1e-10, (np_loss, t_loss.item())
    for k, g in np_grads.items():
        assert np.allclose(g, tp[k].grad.numpy(), rtol=1e-7, atol=1e-12), k

    t_np, t_torch = median_times([numpy_step, torch_step], args.repeats)
    print(f"forward+backward   numpy {t_np * 1e3:7.2f} ms   torch {t_torch * 1e3:7.2f} ms   "
          f"ratio numpy/torch {t_np / t_torch:.2f}x (goal <= 1.5x)")

    # -- training throughput ---------------------------------------------------------------------
    config = TrainConfig(max_steps=args.train_steps, batch_size=N, eval_every=10**9,
                         eval_windows=256)
    small_valid = load_shakespeare("valid")[:50]
    fresh = WindowLM(vocab, np.random.default_rng(1), n_context=C, d_embed=D, d_hidden=H)
    start = time.perf_counter()
    fresh.windows(sentences)          # the loop builds the same windows first; time it apart
    t_windows = time.perf_counter() - start
    start = time.perf_counter()
    train(fresh, sentences, small_valid, config, np.random.default_rng(2))
    t_train = time.perf_counter() - start - t_windows
    tokens = args.train_steps * N
    print(f"training (Adam)    {tokens / t_train:,.0f} tokens/s "
          f"({t_train / args.train_steps * 1e3:.1f} ms per step of {N} windows; building the "
          f"{len(fresh.windows(sentences)[1]):,} training windows took {t_windows:.2f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
